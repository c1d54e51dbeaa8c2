//! `tabiri.homelab.health_check` run by the real `ansible-playbook` from the built
//! collection, over real SSH to a network-namespace host (`ns`) and with `connection:
//! local` (`localhost`), against a backend that is healthy, flaky or behind basic auth.
//! Needs root, `make collection` (or `HOMELAB_COLLECTION`) and `scripts/setup.sh all`.

use acceptance_tests::ansible::Ansible;
use acceptance_tests::ansible_fixtures::{ns_host, LOCAL, NS};
use acceptance_tests::http::start_backend;
use acceptance_tests::procs::free_port;
use acceptance_tests::ssh_hosts::localhost;
use serde_json::{json, Value as Json};

const SECRET: &str = "Zq8-not-in-any-log-5fe1c2";

#[test]
fn health_check_passes_fails_retries_and_hides_the_password() {
    let ns = ns_host();
    let user_pass = format!("monitor:{SECRET}");
    let local_backend = start_backend("127.0.0.1", &user_pass);
    let ns_backend = start_backend(&ns.host_side_address, &user_pass);
    let closed_local = format!("127.0.0.1:{}", free_port());
    let closed_ns = format!("{}:{}", ns.host_side_address, free_port());
    let hosts = [
        ns.inventory_host(NS)
            .var("base", format!("http://{}", ns_backend.addr))
            .var("closed", format!("http://{closed_ns}/"))
            .var("flaky", "/flaky/2/ns"),
        localhost()
            .var("base", format!("http://{}", local_backend.addr))
            .var("closed", format!("http://{closed_local}/"))
            .var("flaky", "/flaky/2/local"),
    ];
    let check = |name: &str, args: Json, ignore: bool| {
        let mut task = json!({ "name": name, "tabiri.homelab.health_check": args });
        if ignore {
            task["ignore_errors"] = json!(true);
        }
        task
    };
    let tasks = json!([
        check(
            "healthy",
            json!({"url": "{{ base }}/healthy", "expect_status": [200], "expect_body": "healthy-marker"}),
            false
        ),
        check(
            "wrong body",
            json!({"url": "{{ base }}/healthy", "expect_body": "no-such-text"}),
            true
        ),
        check(
            "closed port",
            json!({"url": "{{ closed }}", "timeout": 2}),
            true
        ),
        check(
            "flaky",
            json!({"url": "{{ base }}{{ flaky }}", "retries": 3, "delay": 0.2}),
            false
        ),
        check(
            "retries exhausted",
            json!({"url": "{{ base }}/flaky/50/{{ inventory_hostname }}", "retries": 1, "delay": 0.1}),
            true
        ),
        check(
            "auth",
            json!({"url": "{{ base }}/auth", "url_username": "monitor", "url_password": SECRET}),
            false
        ),
        check(
            "auth but wrong body",
            json!({"url": "{{ base }}/auth", "url_username": "monitor", "url_password": SECRET,
                   "expect_body": "never-there"}),
            true
        ),
        check(
            "auth with a wrong password",
            json!({"url": "{{ base }}/auth", "url_username": "monitor",
                   "url_password": format!("{SECRET}-wrong")}),
            true
        ),
    ]);
    let run = Ansible::new("2.19").play(&hosts, tasks).verbose(3).run();
    run.assert_success();

    for (host, backend, closed) in [
        (NS, &ns_backend, &closed_ns),
        (LOCAL, &local_backend, &closed_local),
    ] {
        assert_eq!(run.recap(host).changed, 0, "health_check never changes");
        let healthy = run.ok(host, "healthy");
        assert!(!healthy.changed);
        assert_eq!(healthy.result["status"], 200);
        assert_eq!(healthy.result["attempts"], 1);

        let wrong = run.failed(host, "wrong body");
        assert!(!wrong.changed);
        assert!(
            wrong.msg.contains("200") && wrong.msg.contains("healthy-marker"),
            "{host}: the message names the status and shows the body: {}",
            wrong.msg
        );
        assert!(wrong.msg.contains("no-such-text"), "{}", wrong.msg);

        let refused = run.failed(host, "closed port");
        assert!(
            refused.msg.contains(closed.as_str()) && refused.msg.to_lowercase().contains("refused"),
            "{host}: the message names the address and the connection error: {}",
            refused.msg
        );

        let flaky = run.ok(host, "flaky");
        assert_eq!(flaky.result["attempts"], 3, "{host}: {}", flaky.result);
        let flaky_path = if host == NS {
            "/flaky/2/ns"
        } else {
            "/flaky/2/local"
        };
        assert_eq!(backend.hits(flaky_path), 3);

        let exhausted = run.failed(host, "retries exhausted");
        assert_eq!(exhausted.result["attempts"], 2, "{}", exhausted.result);
        assert!(exhausted.msg.contains("503"), "{}", exhausted.msg);
        assert_eq!(backend.hits(&format!("/flaky/50/{host}")), 2);

        let auth = run.ok(host, "auth");
        assert_eq!(
            auth.result["status"], 200,
            "the password reached the backend"
        );
        assert_eq!(
            auth.result["invocation"]["module_args"]["url_password"],
            "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER",
            "scrubbed like a no_log option"
        );
        run.failed(host, "auth but wrong body");
        let denied = run.failed(host, "auth with a wrong password");
        assert!(denied.msg.contains("401"), "{}", denied.msg);
    }

    // The password appears nowhere: not in -vvv output, not in any result.
    let results = std::fs::read_to_string(run.dir.path().join("results.jsonl")).unwrap();
    for (what, text) in [
        ("stdout", &run.stdout),
        ("stderr", &run.stderr),
        ("results", &results),
    ] {
        assert!(
            !text.contains(SECRET),
            "url_password leaked into {what}:\n{text}"
        );
    }
    assert!(
        run.stdout.contains("invocation") && run.stdout.contains("url_username"),
        "-vvv shows the invocation (scrubbed), so the check above means something:\n{}",
        run.stdout
    );
}
