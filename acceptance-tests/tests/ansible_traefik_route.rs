//! `tabiri.homelab.traefik_route` run by the real `ansible-playbook` from the built
//! collection, over real SSH to a network-namespace host (`ns`) and with `connection:
//! local` (`localhost`): a real Traefik routes requests through the route files the module
//! writes, byte for byte what `homelab_traefik_route` writes. Needs root, `make collection`
//! (or `HOMELAB_COLLECTION`) and `scripts/setup.sh all`.

use std::path::Path;

use acceptance_tests::ansible::Ansible;
use acceptance_tests::ansible_fixtures::{dir_entries, ns_host, LOCAL, NS};
use acceptance_tests::http::serve_text;
use acceptance_tests::procs::free_port;
use acceptance_tests::ssh_hosts::localhost;
use acceptance_tests::traefik::Traefik;
use lab::traefik::TraefikRoute;
use serde_json::{json, Value as Json};

/// The route task, with per-host values from host variables and the backend from `-e`.
fn route_task(name: &str, state: &str) -> Json {
    let args = if state == "absent" {
        json!({
            "name": "{{ route_name }}",
            "config_dir": "{{ route_dir }}",
            "state": "absent",
        })
    } else {
        json!({
            "name": "{{ route_name }}",
            "config_dir": "{{ route_dir }}",
            "rule": "{{ route_rule }}",
            "entrypoints": ["web"],
            "servers": ["{{ backend }}"],
            "priority": 10,
            "traefik_api_url": "{{ route_api | default(omit) }}",
        })
    };
    json!({ "name": name, "tabiri.homelab.traefik_route": args })
}

/// What the Terraform resource writes for the same inputs.
fn terraform_rendering(name: &str, dir: &str, rule: &str, backend: &str) -> String {
    TraefikRoute {
        name: name.into(),
        config_dir: dir.into(),
        rule: rule.into(),
        entrypoints: vec!["web".into()],
        servers: vec![backend.into()],
        middlewares: vec![],
        priority: Some(10),
        pass_host_header: true,
        tls_cert_resolver: None,
        traefik_api_url: None,
    }
    .render()
}

#[test]
fn traefik_route_lifecycle_through_real_traefik() {
    let ns = ns_host();
    let traefik = Traefik::start();
    let (port_a, port_b) = (free_port(), free_port());
    serve_text(port_a, "backend-A");
    serve_text(port_b, "backend-B");
    let (a, b) = (
        format!("http://127.0.0.1:{port_a}"),
        format!("http://127.0.0.1:{port_b}"),
    );
    let dir = traefik.dir();
    // Both hosts write into the directory Traefik watches; localhost also waits for
    // Traefik through its API (the namespace cannot reach the host's loopback).
    let hosts = [
        ns.inventory_host(NS)
            .var("route_name", "acc-ns")
            .var("route_dir", dir.clone())
            .var("route_rule", "Host(`ns.lab.localhost`)"),
        localhost()
            .var("route_name", "acc-local")
            .var("route_dir", dir.clone())
            .var("route_rule", "Host(`local.lab.localhost`)")
            .var("route_api", traefik.api_url.clone()),
    ];
    let files = [
        (NS, "acc-ns", "Host(`ns.lab.localhost`)", "ns.lab.localhost"),
        (
            LOCAL,
            "acc-local",
            "Host(`local.lab.localhost`)",
            "local.lab.localhost",
        ),
    ];
    let ansible = Ansible::new("2.19");

    // 1. Create: changed, the Terraform resource's bytes, routed by Traefik.
    let run = ansible
        .play(&hosts, json!([route_task("route", "present")]))
        .var("backend", a.clone())
        .run();
    run.assert_success();
    for (host, name, rule, fqdn) in files {
        let task = run.ok(host, "route");
        assert!(task.changed, "{host}: {}", task.result);
        assert_eq!(task.result["action"], "create", "{host}");
        let path = format!("{dir}/{name}.toml");
        assert_eq!(task.result["path"], path.as_str());
        let written = std::fs::read_to_string(&path).expect("route file");
        assert_eq!(
            written,
            terraform_rendering(name, &dir, rule, &a),
            "{host}: the module must write what homelab_traefik_route writes"
        );
        traefik.wait_for_response(fqdn, 200, "backend-A");
    }
    let created = std::fs::read(format!("{dir}/acc-ns.toml")).unwrap();

    // 2. The same again: nothing changes.
    let run = ansible
        .play(&hosts, json!([route_task("route", "present")]))
        .var("backend", a.clone())
        .run();
    run.assert_success();
    for host in [NS, LOCAL] {
        assert_eq!(run.recap(host).changed, 0, "{host}:\n{}", run.output());
        assert_eq!(run.ok(host, "route").result["action"], "none");
    }

    // 3. --check --diff with another backend: reports the change and the diff, writes
    //    nothing, Traefik still routes to A.
    let run = ansible
        .play(&hosts, json!([route_task("route", "present")]))
        .var("backend", b.clone())
        .check()
        .diff()
        .run();
    run.assert_success();
    for host in [NS, LOCAL] {
        let task = run.ok(host, "route");
        assert!(task.changed, "check mode reports the change on {host}");
        assert_eq!(task.result["action"], "update");
        let diff = task.diff.as_ref().expect("a diff in diff mode");
        let diff = if diff.is_array() {
            diff[0].clone()
        } else {
            diff.clone()
        };
        let (before, after) = (
            diff["before"].as_str().unwrap_or_default(),
            diff["after"].as_str().unwrap_or_default(),
        );
        assert!(
            before.contains(&a) && !before.contains(&b),
            "before: {before}"
        );
        assert!(after.contains(&b) && !after.contains(&a), "after: {after}");
    }
    // The unified diff --diff prints, with the path as header.
    for name in ["acc-ns", "acc-local"] {
        let expected = format!("--- before: {dir}/{name}.toml\n+++ after: {dir}/{name}.toml\n");
        assert!(run.stdout.contains(&expected), "{expected}\n{}", run.stdout);
    }
    assert!(
        run.stdout
            .contains(&format!("-url = \"{a}\"\n+url = \"{b}\"\n")),
        "--diff shows the backend replaced:\n{}",
        run.stdout
    );
    assert_eq!(
        std::fs::read(format!("{dir}/acc-ns.toml")).unwrap(),
        created,
        "check mode must not write"
    );
    assert_eq!(traefik.get("ns.lab.localhost").1, "backend-A");

    // 4. state=absent removes the files (then nothing is left to remove) and Traefik
    //    drops the routes.
    let run = ansible
        .play(
            &hosts,
            json!([
                route_task("remove", "absent"),
                route_task("remove again", "absent")
            ]),
        )
        .run();
    run.assert_success();
    for (host, name, _, fqdn) in files {
        let removed = run.ok(host, "remove");
        assert!(removed.changed, "{host}: {}", removed.result);
        assert_eq!(removed.result["action"], "delete");
        assert!(!run.ok(host, "remove again").changed);
        assert!(!Path::new(&format!("{dir}/{name}.toml")).exists());
        traefik.wait_for_response(fqdn, 404, "");
    }
    assert!(
        dir_entries(traefik.routes_dir()).is_empty(),
        "no temp files left: {:?}",
        dir_entries(traefik.routes_dir())
    );
}
