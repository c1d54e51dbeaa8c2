//! homelab_traefik_route with the real terraform and a real Traefik: requests reach the
//! backends through the routes the provider writes, through apply, update, replacement,
//! drift, import and destroy; bad input fails before anything is written.

use acceptance_tests::http::serve_text;
use acceptance_tests::procs::free_port;
use acceptance_tests::traefik::Traefik;
use acceptance_tests::Workspace;

const ADDRESS: &str = "homelab_traefik_route.whoami";
const HOST: &str = "whoami.lab.localhost";

fn provider_block() -> &'static str {
    r#"
terraform {
  required_providers {
    homelab = { source = "tabiri/homelab" }
  }
}
provider "homelab" {}
variable "traefik_dir" { type = string }
variable "traefik_api_url" {
  type    = string
  default = null
}
"#
}

/// The resource as its documentation shows it, apart from the servers list and name.
fn route_config(name: &str, servers: &[&str], priority: u32, api: bool) -> String {
    let servers = servers
        .iter()
        .map(|s| format!("{s:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    let api = if api {
        "traefik_api_url   = var.traefik_api_url"
    } else {
        ""
    };
    format!(
        r#"{}
resource "homelab_traefik_route" "whoami" {{
  name              = "{name}"
  config_dir        = var.traefik_dir
  rule              = "Host(`{HOST}`)"
  entrypoints       = ["web"]
  servers           = [{servers}]
  middlewares       = []
  priority          = {priority}
  pass_host_header  = true
  tls_cert_resolver = null
  {api}
}}

output "route_file" {{ value = homelab_traefik_route.whoami.config_path }}
"#,
        provider_block()
    )
}

fn temp_files(dir: &std::path::Path) -> Vec<String> {
    let mut names = acceptance_tests::dir_entries(dir);
    names.retain(|n| n.starts_with('.'));
    names
}

#[test]
fn lifecycle_through_real_traefik() {
    let traefik = Traefik::start();
    let (port_a, port_b) = (free_port(), free_port());
    serve_text(port_a, "backend-A");
    serve_text(port_b, "backend-B");
    let a = format!("http://127.0.0.1:{port_a}");
    let b = format!("http://127.0.0.1:{port_b}");

    let mut ws = Workspace::new();
    ws.var("traefik_dir", traefik.dir())
        .var("traefik_api_url", traefik.api_url.clone());

    // Create: the request reaches backend A through the route.
    ws.config(&route_config("whoami", &[a.as_str()], 10, true));
    ws.apply();
    let file = traefik.routes_dir().join("whoami.toml");
    assert!(file.exists());
    assert_eq!(ws.output("route_file"), file.display().to_string());
    let state = ws.resource(ADDRESS).expect("route in state");
    assert_eq!(state["id"], file.display().to_string());
    assert_eq!(state["servers"], serde_json::json!([a]));
    assert_eq!(state["content_sha256"].as_str().map(str::len), Some(64));
    traefik.wait_for_response(HOST, 200, "backend-A");
    ws.expect_empty_plan();

    // Servers change in place, and Traefik follows.
    ws.config(&route_config("whoami", &[b.as_str()], 10, true));
    ws.expect_plan(ADDRESS, &["update"]);
    ws.apply();
    traefik.wait_for_response(HOST, 200, "backend-B");
    ws.expect_empty_plan();

    // Drift: a hand edit shows in the plan and apply puts the file back.
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace(&b, &a)).unwrap();
    ws.expect_plan(ADDRESS, &["update"]);
    ws.apply();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
    ws.expect_empty_plan();

    // Drift: a deleted file is planned as a create.
    std::fs::remove_file(&file).unwrap();
    ws.expect_plan(ADDRESS, &["create"]);
    ws.apply();
    assert!(file.exists());
    traefik.wait_for_response(HOST, 200, "backend-B");

    // Import: forget the route, import it by path, and the plan is empty again (the
    // API URL is not in the file, so this step's configuration leaves it out).
    ws.config(&route_config("whoami", &[b.as_str()], 10, false));
    ws.apply();
    ws.state_rm(ADDRESS);
    ws.import(ADDRESS, &file.display().to_string());
    ws.expect_empty_plan();
    assert_eq!(ws.resource(ADDRESS).unwrap()["priority"], 10);

    // A new name replaces the route: the old file goes, the new one comes.
    ws.config(&route_config("whoami2", &[b.as_str()], 10, true));
    ws.expect_plan(ADDRESS, &["delete", "create"]);
    ws.apply();
    assert!(!file.exists());
    assert!(traefik.routes_dir().join("whoami2.toml").exists());
    traefik.wait_for_response(HOST, 200, "backend-B");

    // Destroy: the file is gone and Traefik answers 404.
    ws.destroy();
    assert!(std::fs::read_dir(traefik.routes_dir())
        .unwrap()
        .next()
        .is_none());
    traefik.wait_for_response(HOST, 404, "404 page not found");
    assert!(ws.resource(ADDRESS).is_none());
}

#[test]
fn bad_input_is_rejected_with_the_attribute_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str, &str)] = &[
        ("rule", "\"Host(`x`\"", "rule"),
        ("rule", "\"Hots(`x`)\"", "Hots"),
        ("servers", "[]", "servers"),
        ("servers", "[\"ftp://127.0.0.1:21\"]", "servers[0]"),
        ("name", "\"\"", "name"),
        ("name", "\"a/b\"", "name"),
        ("name", "\"a..b\"", "name"),
        ("name", "\"a b\"", "name"),
        ("config_dir", "\"relative/dir\"", "config_dir"),
        ("priority", "-1", "priority"),
    ];
    for (attribute, value, expected) in cases {
        let mut fields = [
            ("name", "\"whoami\"".to_string()),
            (
                "config_dir",
                format!("{:?}", dir.path().display().to_string()),
            ),
            ("rule", "\"Host(`x`)\"".to_string()),
            ("servers", "[\"http://127.0.0.1:1\"]".to_string()),
            ("priority", "1".to_string()),
        ];
        for field in fields.iter_mut() {
            if field.0 == *attribute {
                field.1 = value.to_string();
            }
        }
        let body: String = fields
            .iter()
            .map(|(k, v)| format!("  {k} = {v}\n"))
            .collect();
        let ws = Workspace::new();
        ws.config(&format!(
            "{}\nresource \"homelab_traefik_route\" \"bad\" {{\n{body}}}\n",
            provider_block()
        ));
        let output = ws.validate();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            !output.status.success(),
            "{attribute} = {value} passed validate:\n{text}"
        );
        assert!(
            text.contains("Invalid Traefik route") && text.contains(expected),
            "{attribute} = {value}: diagnostic should name {expected}:\n{text}"
        );
        // Terraform quotes the configuration line of the attribute it was pointed at.
        assert!(
            text.contains(&format!("{attribute} = {value}")),
            "{attribute} = {value}: diagnostic should point at the attribute:\n{text}"
        );
    }
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());

    // Values unknown at validate (variables) are checked at plan, before any write.
    let mut ws = Workspace::new();
    ws.var("traefik_dir", "relative/dir");
    ws.config(&route_config("whoami", &["http://127.0.0.1:1"], 1, false));
    let text = ws.fails(&["plan", "-input=false", "-no-color"]);
    assert!(text.contains("config_dir"), "{text}");
}

#[test]
fn unwritable_directory_fails_with_path_and_os_error_and_no_temp_file() {
    let base = tempfile::tempdir().unwrap();
    // A regular file where the directory should be: fails even for root.
    let blocker = base.path().join("not-a-dir");
    std::fs::write(&blocker, "x").unwrap();
    let mut ws = Workspace::new();
    ws.var("traefik_dir", blocker.display().to_string());
    ws.config(&route_config("whoami", &["http://127.0.0.1:1"], 1, false));
    let text = ws.fails(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert!(text.contains(&blocker.display().to_string()), "{text}");
    assert!(
        text.contains("os error"),
        "the OS error should be shown: {text}"
    );
    assert!(temp_files(base.path()).is_empty());
    assert_eq!(std::fs::read_to_string(&blocker).unwrap(), "x");
    // Nothing was created, so nothing is in state and a fixed config applies cleanly.
    assert!(ws.resource(ADDRESS).is_none());
    std::fs::remove_file(&blocker).unwrap();
    std::fs::create_dir(&blocker).unwrap();
    ws.apply();
    ws.expect_empty_plan();
    ws.destroy();
}

#[test]
fn foreign_file_is_never_overwritten_until_imported() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("whoami.toml");
    let foreign = "[http.routers.whoami]\nrule = \"Host(`old`)\"\nservice = \"whoami\"\n\n[http.services.whoami.loadBalancer]\n[[http.services.whoami.loadBalancer.servers]]\nurl = \"http://127.0.0.1:9\"\n";
    std::fs::write(&file, foreign).unwrap();
    let mut ws = Workspace::new();
    ws.var("traefik_dir", dir.path().display().to_string());
    ws.config(&route_config("whoami", &["http://127.0.0.1:1"], 1, false));
    let text = ws.fails(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    // Terraform wraps its diagnostics; compare with the line breaks folded.
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let command = format!(
        "terraform import homelab_traefik_route.whoami {}",
        file.display()
    );
    assert!(
        flat.contains(&command),
        "the error should give the import command: {text}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), foreign);

    // Once imported, the file is ours: the plan updates it to the configuration.
    ws.import(ADDRESS, &file.display().to_string());
    ws.expect_plan(ADDRESS, &["update"]);
    ws.apply();
    assert!(std::fs::read_to_string(&file)
        .unwrap()
        .contains("http://127.0.0.1:1"));
    ws.expect_empty_plan();
}

#[test]
fn traefik_rejection_fails_apply_with_traefiks_words_and_next_apply_recovers() {
    let traefik = Traefik::start();
    let port = free_port();
    serve_text(port, "backend-ok");
    let mut ws = Workspace::new();
    ws.var("traefik_dir", traefik.dir())
        .var("traefik_api_url", traefik.api_url.clone());
    let backend = format!("http://127.0.0.1:{port}");
    let good = route_config("whoami", &[backend.as_str()], 1, true);
    let bad = good.replace(
        "middlewares       = []",
        "middlewares       = [\"missing-mw\"]",
    );
    ws.config(&bad);
    let text = ws.fails(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert!(
        text.contains("middleware \"missing-mw@file\" does not exist"),
        "Traefik's own error text should be shown: {text}"
    );
    // The written route is recorded (tainted), so the next apply replaces it.
    assert!(ws.resource(ADDRESS).is_some());
    ws.config(&good);
    ws.expect_plan(ADDRESS, &["delete", "create"]);
    ws.apply();
    traefik.wait_for_response(HOST, 200, "backend-ok");
    ws.expect_empty_plan();
    ws.destroy();
}
