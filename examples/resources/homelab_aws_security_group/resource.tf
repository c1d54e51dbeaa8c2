resource "homelab_aws_security_group" "public" {
  name        = "lab-public"
  description = "Public zone: HTTP and HTTPS from anywhere"
  ingress = [
    { protocol = "tcp", from_port = 443, to_port = 443, cidr_blocks = ["0.0.0.0/0"] },
    { protocol = "tcp", from_port = 80, to_port = 80, cidr_blocks = ["0.0.0.0/0"] },
    { protocol = "tcp", from_port = 22, to_port = 22, cidr_blocks = ["100.64.0.0/10"], description = "SSH over the NetBird mesh" },
  ]
  # Exactly the declared rules exist: without this, AWS's default allow-all egress is removed.
  egress = [{ protocol = "-1", from_port = 0, to_port = 0, cidr_blocks = ["0.0.0.0/0"] }]
  tags   = { Zone = "public" }
}
