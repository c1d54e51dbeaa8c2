//! The Traefik route capability through its public API, as the provider and the Ansible
//! module use it.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use lab::traefik::{
    apply, import_route, plan, read_route_file, route_file_path, validate_location, Action,
    Ownership, TraefikRoute, HEADER_PREFIX,
};
use lab::validation::FieldError;
use lab::validation::Validate;
use serde_json::json;

fn route(dir: &Path) -> TraefikRoute {
    serde_json::from_value(json!({
        "name": "whoami",
        "config_dir": dir.to_str().unwrap(),
        "rule": "Host(`whoami.lab`) && (PathPrefix(`/x`) || !Method(`POST`))",
        "entrypoints": ["websecure"],
        "servers": ["http://10.0.0.5:8080", "http://10.0.0.6:8080"],
        "middlewares": ["auth", "compress@docker"],
        "priority": 10,
        "tls_cert_resolver": "le",
    }))
    .unwrap()
}

fn minimal(dir: &Path) -> TraefikRoute {
    serde_json::from_value(json!({
        "name": "whoami",
        "config_dir": dir.to_str().unwrap(),
        "rule": "Host(`whoami.lab`)",
        "servers": ["http://10.0.0.5:8080"],
    }))
    .unwrap()
}

fn messages(errors: &[FieldError]) -> Vec<String> {
    errors.iter().map(ToString::to_string).collect()
}

fn dir_entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Create-or-update as both surfaces do it: read, plan, apply.
fn converge(r: &TraefikRoute, ownership: Ownership) -> Result<Action, lab::Error> {
    let actual = read_route_file(&r.file_path())?;
    let p = plan(&r.file_path(), Some(r), actual.as_ref());
    p.check(ownership)?;
    apply(&p, ownership)?;
    Ok(p.action)
}

#[test]
fn defaults_and_nulls_from_either_surface() {
    let r: TraefikRoute = serde_json::from_value(json!({
        "name": "a", "config_dir": "/d", "rule": "Host(`a`)", "servers": ["http://x"],
        "entrypoints": null, "middlewares": null, "pass_host_header": null,
        "priority": null, "tls_cert_resolver": null, "traefik_api_url": null,
    }))
    .unwrap();
    assert!(r.entrypoints.is_empty());
    assert!(r.middlewares.is_empty());
    assert!(r.pass_host_header);
    assert_eq!(r.priority, None);
    let unknown = serde_json::from_value::<TraefikRoute>(json!({
        "name": "a", "config_dir": "/d", "rule": "Host(`a`)", "servers": ["http://x"],
        "entrypoint": ["web"],
    }))
    .unwrap_err()
    .to_string();
    assert!(unknown.contains("unknown field `entrypoint`"), "{unknown}");
}

#[test]
fn valid_route_has_no_errors() {
    assert_eq!(route(Path::new("/etc/traefik/dynamic")).validate(), vec![]);
    let r = minimal(Path::new("/etc/traefik/dynamic"));
    assert!(r.check().is_ok());
}

#[test]
fn validation_reports_every_problem_with_its_path() {
    let r: TraefikRoute = serde_json::from_value(json!({
        "name": "my route@x",
        "config_dir": "etc/traefik",
        "rule": "Hots(`x`)",
        "entrypoints": [""],
        "servers": ["http://ok:1", "ftp://x", "not a url"],
        "middlewares": ["@docker"],
        "priority": -1,
        "tls_cert_resolver": "",
        "traefik_api_url": "http://admin:hunter2@:8080",
    }))
    .unwrap();
    let got = messages(&r.validate());
    let expected = vec![
        "name: must not contain whitespace, got \"my route@x\"".to_owned(),
        "name: must not contain \"@\" (Traefik adds \"@file\" itself), got \"my route@x\"".to_owned(),
        "config_dir: must be an absolute path (the directory Traefik's file provider watches, e.g. /etc/traefik/dynamic), got \"etc/traefik\"".to_owned(),
        format!(
            "rule: unknown matcher \"Hots\" (known: {}) at column 1; did you mean Host?",
            lab::traefik::rule::MATCHERS.join(", ")
        ),
        "entrypoints[0]: must not be empty".to_owned(),
        "servers[1]: must be an http(s) URL, got \"ftp://x\"".to_owned(),
        "servers[2]: must be an http(s) URL, got \"not a url\" (relative URL without a base)".to_owned(),
        "middlewares[0]: must be a name or name@provider, got \"@docker\"".to_owned(),
        "priority: must be 0 or more, got -1".to_owned(),
        "tls_cert_resolver: must be a certificate resolver name, got \"\"".to_owned(),
    ];
    assert_eq!(got[..expected.len()], expected[..]);
    // The API URL is bad too; its password must not appear in the message.
    assert_eq!(got.len(), expected.len() + 1, "{got:#?}");
    let api = &got[expected.len()];
    assert!(api.starts_with("traefik_api_url: "), "{api}");
    assert!(!api.contains("hunter2"), "{api}");

    let err = r.check().unwrap_err().to_string();
    assert!(
        err.starts_with("invalid traefik route \"my route@x\": name: "),
        "{err}"
    );
}

#[test]
fn name_and_directory_rules() {
    for (name, fragment) in [
        ("", "name: must not be empty"),
        ("a/b", "must not contain \"/\""),
        ("a..b", "must not contain \"..\""),
        (".hidden", "must not start with \".\""),
        ("tab\tname", "must not contain whitespace"),
    ] {
        let msgs = messages(&validate_location(name, "/etc/traefik"));
        assert!(
            msgs.iter().any(|m| m.contains(fragment)),
            "{name:?}: {msgs:?}"
        );
    }
    let long = "a".repeat(251);
    assert!(!validate_location(&long, "/d").is_empty());
    assert!(validate_location(&"a".repeat(250), "/d").is_empty());
    for (dir, msg) in [
        (
            "/etc/traefik/",
            "config_dir: must be written as \"/etc/traefik\", got \"/etc/traefik/\"",
        ),
        (
            "/etc//traefik",
            "config_dir: must be written as \"/etc/traefik\", got \"/etc//traefik\"",
        ),
        (
            "/etc/../traefik",
            "config_dir: must not contain \".\" or \"..\" components, got \"/etc/../traefik\"",
        ),
    ] {
        assert_eq!(messages(&validate_location("a", dir)), vec![msg.to_owned()]);
    }
    assert!(validate_location("a", "/").is_empty());
}

#[test]
fn server_urls_need_a_host_and_h2c_is_allowed() {
    let mut r = minimal(Path::new("/d"));
    r.servers = vec![
        "h2c://grpc:50051".into(),
        "https://[::1]:8443".into(),
        "http://".into(),
    ];
    let msgs = messages(&r.validate());
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert!(msgs[0].starts_with("servers[2]: "), "{msgs:?}");
    r.servers.clear();
    assert_eq!(
        messages(&r.validate()),
        vec!["servers: must list at least one backend URL, e.g. \"http://10.0.0.5:8080\""]
    );
}

#[test]
fn render_is_stable_and_reads_back_to_the_same_route() {
    let dir = tempfile::tempdir().unwrap();
    let mut dotted = minimal(dir.path());
    dotted.name = "who.ami-2".into();
    for r in [route(dir.path()), minimal(dir.path()), dotted] {
        let text = r.render();
        assert_eq!(text, r.clone().render());
        assert!(text.starts_with(&format!(
            "# Managed by Tabiri Homelab (traefik route \"{}\"). Edits here are reported as drift and overwritten.\n",
            r.name
        )));
        fs::write(r.file_path(), &text).unwrap();
        let file = read_route_file(&r.file_path()).unwrap().unwrap();
        assert!(file.managed);
        assert_eq!(file.parsed.as_ref(), Some(&r), "{:?}", file.unparsed_reason);
        assert_eq!(file.sha256, r.rendered_sha256());
    }
}

#[test]
fn render_writes_traefik_keys() {
    let text = route(Path::new("/d")).render();
    for line in [
        "[http.routers.whoami]",
        "rule = \"Host(`whoami.lab`) && (PathPrefix(`/x`) || !Method(`POST`))\"",
        "entryPoints = [\"websecure\"]",
        "service = \"whoami\"",
        "priority = 10",
        "middlewares = [\"auth\", \"compress@docker\"]",
        "[http.routers.whoami.tls]",
        "certResolver = \"le\"",
        "[http.services.whoami.loadBalancer]",
        "passHostHeader = true",
        "[[http.services.whoami.loadBalancer.servers]]",
        "url = \"http://10.0.0.6:8080\"",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    let min = minimal(Path::new("/d")).render();
    for absent in ["entryPoints", "middlewares", "priority", "tls"] {
        assert!(!min.contains(absent), "{absent} in\n{min}");
    }
}

#[test]
fn create_then_nothing_to_do_then_delete() {
    let dir = tempfile::tempdir().unwrap();
    let r = route(dir.path());
    let path = r.file_path();
    assert_eq!(path, dir.path().join("whoami.toml"));
    assert_eq!(path, route_file_path(&r.config_dir, "whoami"));

    let p = plan(&path, Some(&r), None);
    assert_eq!(p.action, Action::Create);
    assert_eq!(p.before, None);
    assert_eq!(p.after.as_deref(), Some(r.render().as_str()));
    apply(&p, Ownership::RequireMark).unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), r.render());
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o644
    );
    assert_eq!(dir_entries(dir.path()), vec!["whoami.toml"]);

    // Converged: same plan on the second run, nothing written.
    assert_eq!(converge(&r, Ownership::RequireMark).unwrap(), Action::None);

    let actual = read_route_file(&path).unwrap();
    let p = plan(&path, None, actual.as_ref());
    assert_eq!(p.action, Action::Delete);
    assert_eq!(p.after, None);
    assert_eq!(p.before.as_deref(), Some(r.render().as_str()));
    apply(&p, Ownership::RequireMark).unwrap();
    assert!(!path.exists());

    // Absent and already gone.
    let p = plan(&path, None, None);
    assert_eq!(p.action, Action::None);
    assert!(!p.changed());
    apply(&p, Ownership::RequireMark).unwrap();
}

#[test]
fn deleting_a_file_that_vanished_since_the_plan_is_fine() {
    let dir = tempfile::tempdir().unwrap();
    let r = minimal(dir.path());
    converge(&r, Ownership::RequireMark).unwrap();
    let actual = read_route_file(&r.file_path()).unwrap();
    let p = plan(&r.file_path(), None, actual.as_ref());
    fs::remove_file(r.file_path()).unwrap();
    apply(&p, Ownership::RequireMark).unwrap();
    apply(&p, Ownership::Owned).unwrap();
}

#[test]
fn hand_edits_are_drift() {
    let dir = tempfile::tempdir().unwrap();
    let r = route(dir.path());
    converge(&r, Ownership::RequireMark).unwrap();
    let path = r.file_path();
    let original = read_route_file(&path).unwrap().unwrap();

    // A semantic edit: different hash, and the route read back differs.
    let edited = r
        .render()
        .replace("http://10.0.0.6:8080", "http://10.0.0.7:8080");
    fs::write(&path, &edited).unwrap();
    let file = read_route_file(&path).unwrap().unwrap();
    assert!(file.managed);
    assert_ne!(file.sha256, original.sha256);
    let parsed = file.parsed.clone().unwrap();
    assert_ne!(parsed, r);
    assert_eq!(parsed.servers[1], "http://10.0.0.7:8080");
    let p = plan(&path, Some(&r), Some(&file));
    assert_eq!(p.action, Action::Update);
    assert_eq!(p.before.as_deref(), Some(edited.as_str()));

    // A cosmetic edit: same route, but the bytes differ, so it is still rewritten.
    fs::write(&path, format!("{}# note\n", r.render())).unwrap();
    let file = read_route_file(&path).unwrap().unwrap();
    assert_eq!(file.parsed.as_ref(), Some(&r));
    assert_ne!(file.sha256, original.sha256);
    assert_eq!(
        converge(&r, Ownership::RequireMark).unwrap(),
        Action::Update
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), r.render());
}

#[test]
fn a_foreign_file_refuses_create_until_owned() {
    let dir = tempfile::tempdir().unwrap();
    let r = minimal(dir.path());
    let path = r.file_path();
    let foreign = "[http.routers.whoami]\nrule = \"Host(`old`)\"\nservice = \"whoami\"\n\n\
                   [http.services.whoami.loadBalancer]\n\
                   [[http.services.whoami.loadBalancer.servers]]\nurl = \"http://old:80\"\n";
    fs::write(&path, foreign).unwrap();

    let file = read_route_file(&path).unwrap().unwrap();
    assert!(!file.managed);
    let p = plan(&path, Some(&r), Some(&file));
    assert_eq!(p.action, Action::Update);
    let expected = format!(
        "{0} exists and is not managed by Tabiri Homelab; import it as route \"whoami\" \
         or move it away",
        path.display()
    );
    // Refused at plan time (check mode) and at apply, and the file is untouched.
    assert_eq!(
        p.check(Ownership::RequireMark).unwrap_err().to_string(),
        expected
    );
    assert_eq!(
        apply(&p, Ownership::RequireMark).unwrap_err().to_string(),
        expected
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), foreign);

    // Import, then the owner's first apply takes the file over and adds the header.
    let imported = import_route(&path).unwrap();
    assert_eq!(imported.rule, "Host(`old`)");
    assert_eq!(imported.config_dir, r.config_dir);
    assert!(imported.pass_host_header);
    p.check(Ownership::Owned).unwrap();
    apply(&p, Ownership::Owned).unwrap();
    let file = read_route_file(&path).unwrap().unwrap();
    assert!(file.managed);
    assert!(file.content.starts_with(HEADER_PREFIX));
    assert_eq!(converge(&r, Ownership::RequireMark).unwrap(), Action::None);
}

#[test]
fn a_file_appearing_after_the_plan_is_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let r = minimal(dir.path());
    let p = plan(&r.file_path(), Some(&r), None);
    assert_eq!(p.action, Action::Create);
    fs::write(r.file_path(), "# someone else's\n").unwrap();
    let err = apply(&p, Ownership::RequireMark).unwrap_err().to_string();
    assert!(err.contains("is not managed by Tabiri Homelab"), "{err}");
    assert_eq!(
        fs::read_to_string(r.file_path()).unwrap(),
        "# someone else's\n"
    );
}

#[test]
fn deleting_a_foreign_file_needs_ownership() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("legacy.toml");
    fs::write(&path, "# hand written\n").unwrap();
    let file = read_route_file(&path).unwrap().unwrap();
    let p = plan(&path, None, Some(&file));
    assert_eq!(p.action, Action::Delete);
    let err = apply(&p, Ownership::RequireMark).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "{} is not managed by Tabiri Homelab (it lacks the ownership header), so it was \
             left in place; remove it by hand if route \"legacy\" should go",
            path.display()
        )
    );
    assert!(path.exists());
    apply(&p, Ownership::Owned).unwrap();
    assert!(!path.exists());
}

#[test]
fn unwritable_directory_fails_with_the_path_and_leaves_nothing() {
    // config_dir is a regular file: every write below it fails, even as root.
    let dir = tempfile::tempdir().unwrap();
    let not_a_dir = dir.path().join("traefik");
    fs::write(&not_a_dir, "").unwrap();
    let r = minimal(&not_a_dir);
    let err = converge(&r, Ownership::RequireMark)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!("reading {}: ", r.file_path().display()))
            || err.starts_with(&format!("writing {}: ", r.file_path().display())),
        "{err}"
    );
    assert!(err.contains("Not a directory (os error 20)"), "{err}");
    let p = plan(&r.file_path(), Some(&r), None);
    let err = apply(&p, Ownership::RequireMark).unwrap_err().to_string();
    assert!(err.contains(&r.file_path().display().to_string()), "{err}");
    assert_eq!(dir_entries(dir.path()), vec!["traefik"]);

    // A read-only directory, which only binds a non-root user.
    let ro = dir.path().join("ro");
    fs::create_dir(&ro).unwrap();
    fs::set_permissions(&ro, fs::Permissions::from_mode(0o500)).unwrap();
    if fs::write(ro.join("probe"), "").is_err() {
        let r = minimal(&ro);
        let err = converge(&r, Ownership::RequireMark)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!(
                "writing {}: Permission denied (os error 13)",
                r.file_path().display()
            )
        );
        assert!(dir_entries(&ro).is_empty());
    }
    fs::set_permissions(&ro, fs::Permissions::from_mode(0o700)).unwrap();
}

#[test]
fn missing_config_dir_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let r = minimal(&dir.path().join("dynamic"));
    let err = converge(&r, Ownership::RequireMark)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!(
            "writing {}: No such file or directory (os error 2) (the directory {} does not exist)",
            r.file_path().display(),
            r.config_dir
        )
    );
}

#[test]
fn read_back_explains_files_that_are_not_a_single_route() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("two.toml", "[http.routers.a]\nrule = \"Host(`a`)\"\nservice = \"a\"\n[http.routers.b]\nrule = \"Host(`b`)\"\nservice = \"a\"\n[http.services.a.loadBalancer]\n[[http.services.a.loadBalancer.servers]]\nurl = \"http://x\"\n",
         "it must hold exactly one HTTP router and one service, found 2 router(s) and 1 service(s)"),
        ("other.toml", "[http.routers.a]\nrule = \"Host(`a`)\"\nservice = \"a\"\n[http.services.a.loadBalancer]\n[[http.services.a.loadBalancer.servers]]\nurl = \"http://x\"\n",
         "the router is named \"a\", so the file must be named a.toml; rename one of them so they match"),
        ("hc.toml", "[http.routers.hc]\nrule = \"Host(`a`)\"\nservice = \"hc\"\n[http.services.hc.loadBalancer.healthCheck]\npath = \"/\"\n",
         "unknown field `healthCheck`"),
        ("bad.toml", "garbage [[[", "it is not a single Traefik route"),
        ("svc.toml", "[http.routers.svc]\nrule = \"Host(`a`)\"\nservice = \"elsewhere\"\n[http.services.svc.loadBalancer]\n",
         "router \"svc\" sends requests to service \"elsewhere\", but the file defines service \"svc\""),
    ];
    for (file, content, reason) in cases {
        let path = dir.path().join(file);
        fs::write(&path, content).unwrap();
        let f = read_route_file(&path).unwrap().unwrap();
        assert_eq!(f.parsed, None, "{file}");
        let why = f.unparsed_reason.unwrap();
        assert!(why.contains(reason), "{file}: {why}");
        let err = import_route(&path).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("cannot import {}: ", path.display())),
            "{err}"
        );
    }
    let err = import_route(&dir.path().join("none.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.ends_with("none.toml: there is no file at this path"),
        "{err}"
    );
    assert_eq!(
        read_route_file(&dir.path().join("none.toml")).unwrap(),
        None
    );
}

#[test]
fn foreign_route_with_qualified_service_and_defaults_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.toml");
    fs::write(
        &path,
        "[http.routers.app]\nrule = \"Host(`app`)\"\nservice = \"app-svc@file\"\n\
         [http.services.app-svc.loadBalancer]\npassHostHeader = false\n\
         [[http.services.app-svc.loadBalancer.servers]]\nurl = \"http://app:80\"\n",
    )
    .unwrap();
    let r = import_route(&path).unwrap();
    assert_eq!(r.name, "app");
    assert!(!r.pass_host_header);
    assert_eq!(r.servers, vec!["http://app:80"]);
    assert_eq!(r.traefik_api_url, None);
}
