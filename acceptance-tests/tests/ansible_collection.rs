//! The tabiri.homelab collection as a whole, run by the real `ansible-playbook` (ansible-core
//! 2.19 and 2.18) from the built collection tarball, over real SSH to a network-namespace
//! host (`ns`) and with `connection: local` (`localhost`): every module idempotent on both
//! versions, bad input refused naming the option, host keys checked, the action plugins'
//! binary cache, ansible-doc, the aarch64 build under qemu-user, and `examples/playbooks`
//! installed and run as Semaphore UI does.
//!
//! Each test writes into its own temp directories (the namespace shares the filesystem
//! with the test). Needs root, `make collection` (or `HOMELAB_COLLECTION`) and
//! `scripts/setup.sh all`.

use std::path::{Path, PathBuf};
use std::process::Command;

use acceptance_tests::ansible::{collections_path, Ansible};
use acceptance_tests::ansible_fixtures::{dir_entries, ns_host, path_str, temp_dir, LOCAL, NS};
use acceptance_tests::http::start_backend;
use acceptance_tests::repo_root;
use acceptance_tests::ssh_hosts::localhost;
use lab::traefik::TraefikRoute;
use serde_json::{json, Value as Json};

// ---------------------------------------------------------------------------------------
// Idempotence on both ansible-core versions, all modules, over SSH and locally.
// ---------------------------------------------------------------------------------------

#[test]
fn idempotent_on_ansible_2_19_and_2_18() {
    let ns = ns_host();
    let backend = start_backend(&ns.host_side_address, "x:y");
    let local_backend = start_backend("127.0.0.1", "x:y");
    for ansible in Ansible::all() {
        let dirs = [temp_dir("idem-ns"), temp_dir("idem-local")];
        let hosts = [
            ns.inventory_host(NS)
                .var("dir", path_str(dirs[0].path()))
                .var("base", format!("http://{}", backend.addr)),
            localhost()
                .var("dir", path_str(dirs[1].path()))
                .var("base", format!("http://{}", local_backend.addr)),
        ];
        let tasks = json!([
            {
                "name": "route",
                "tabiri.homelab.traefik_route": {
                    "name": "idem",
                    "config_dir": "{{ dir }}",
                    "rule": "Host(`idem.lab.localhost`) && PathPrefix(`/api`)",
                    "servers": ["http://127.0.0.1:9"],
                    "middlewares": ["auth@file"],
                    "tls_cert_resolver": "le",
                }
            },
            {
                "name": "target",
                "tabiri.homelab.prometheus_target": {
                    "job": "idem",
                    "targets": ["127.0.0.1:9100", "[::1]:9100"],
                    "labels": {"env": "lab"},
                    "file_sd_dir": "{{ dir }}",
                }
            },
            {
                "name": "logging",
                "tabiri.homelab.docker_logging": {
                    "max_size": "20m",
                    "max_file": 5,
                    "daemon_json": "{{ dir }}/daemon.json",
                }
            },
            {
                "name": "health",
                "tabiri.homelab.health_check": {"url": "{{ base }}/healthy"}
            },
        ]);
        let first = ansible.play(&hosts, tasks.clone()).run();
        first.assert_success();
        let second = ansible.play(&hosts, tasks).run();
        second.assert_success();
        for host in [NS, LOCAL] {
            assert_eq!(
                first.recap(host).changed,
                3,
                "ansible {}: {host}:\n{}",
                ansible.version,
                first.output()
            );
            assert_eq!(
                second.recap(host).changed,
                0,
                "ansible {}: {host}:\n{}",
                ansible.version,
                second.output()
            );
            assert_eq!(second.recap(host).ok, 4);
        }
        // The same inputs write the same bytes on both versions and both connections.
        let route = |d: &tempfile::TempDir| std::fs::read(d.path().join("idem.toml")).unwrap();
        assert_eq!(route(&dirs[0]), route(&dirs[1]));
    }
}

// ---------------------------------------------------------------------------------------
// Bad input: the task fails with a message naming the option, and nothing is written.
// ---------------------------------------------------------------------------------------

#[test]
fn bad_input_fails_naming_the_option_and_writes_nothing() {
    let ns = ns_host();
    let dir = temp_dir("bad-input");
    let d = path_str(dir.path());
    let missing = format!("{d}/missing/dynamic");
    let route = json!({
        "name": "bad",
        "config_dir": d,
        "rule": "Host(`bad.lab.localhost`)",
        "servers": ["http://127.0.0.1:9"],
    });
    let with = |base: &Json, key: &str, value: Json| {
        let mut args = base.clone();
        if value.is_null() {
            args.as_object_mut().unwrap().remove(key);
        } else {
            args[key] = value;
        }
        args
    };
    let target = json!({"job": "bad", "targets": ["127.0.0.1:9100"], "file_sd_dir": d});
    let logging =
        json!({"max_size": "10m", "max_file": 3, "daemon_json": format!("{d}/daemon.json")});
    // (task name, module, args, the option the message must name)
    let cases: Vec<(&str, &str, Json, &str)> = vec![
        (
            "unknown option",
            "traefik_route",
            with(&route, "colour", json!("blue")),
            "colour",
        ),
        (
            "retries: many",
            "health_check",
            json!({"url": "http://127.0.0.1:9/", "retries": "many"}),
            "retries",
        ),
        (
            "missing rule",
            "traefik_route",
            with(&route, "rule", Json::Null),
            "rule",
        ),
        (
            "missing job",
            "prometheus_target",
            with(&target, "job", Json::Null),
            "job",
        ),
        (
            "missing max_file",
            "docker_logging",
            with(&logging, "max_file", Json::Null),
            "max_file",
        ),
        (
            "state: gone",
            "traefik_route",
            with(&route, "state", json!("gone")),
            "state",
        ),
        (
            "unbalanced rule",
            "traefik_route",
            with(&route, "rule", json!("(Host(`a.lab`) || Host(`b.lab`)")),
            "rule",
        ),
        (
            "target without port",
            "prometheus_target",
            with(&target, "targets", json!(["10.0.0.5"])),
            "targets",
        ),
        (
            "max_size: ten",
            "docker_logging",
            with(&logging, "max_size", json!("ten")),
            "max_size",
        ),
        (
            "url not http",
            "health_check",
            json!({"url": "ftp://127.0.0.1/pub"}),
            "url",
        ),
        (
            "route dir missing",
            "traefik_route",
            with(&route, "config_dir", json!(missing)),
            "config_dir",
        ),
        (
            "file_sd_dir missing",
            "prometheus_target",
            with(&target, "file_sd_dir", json!(missing)),
            "file_sd_dir",
        ),
    ];
    let mut tasks: Vec<Json> = cases
        .iter()
        .map(|(name, module, args, _)| {
            json!({
                "name": name,
                format!("tabiri.homelab.{module}"): args,
                "ignore_errors": true,
            })
        })
        .collect();
    tasks.push(json!({
        "name": "create_dir makes it work",
        "tabiri.homelab.traefik_route": with(
            &with(&route, "config_dir", json!(missing)),
            "create_dir",
            json!(true),
        ),
    }));
    let run = Ansible::new("2.19")
        .play(&[ns.inventory_host(NS)], json!(tasks))
        .run();
    run.assert_success();
    for (name, _, _, option) in &cases {
        let task = run.failed(NS, name);
        assert!(!task.changed, "{name}: {}", task.result);
        assert!(
            task.msg.contains(option),
            "{name}: the message must name {option:?}: {}",
            task.msg
        );
    }
    let created = run.ok(NS, "create_dir makes it work");
    assert!(created.changed);
    assert_eq!(
        dir_entries(dir.path()),
        vec!["missing".to_string()],
        "the failed tasks wrote nothing"
    );
    assert_eq!(
        dir_entries(&PathBuf::from(&missing)),
        vec!["bad.toml".to_string()]
    );
    assert_eq!(run.recap(NS).failed, 0);
    assert_eq!(run.recap(NS).ignored as usize, cases.len());
}

// ---------------------------------------------------------------------------------------
// Host key checking is really on.
// ---------------------------------------------------------------------------------------

#[test]
fn a_wrong_host_key_is_refused() {
    let ns = ns_host();
    let dir = temp_dir("wrong-known-hosts");
    run_ok(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(dir.path().join("other")),
    );
    let other = std::fs::read_to_string(dir.path().join("other.pub")).unwrap();
    let other: Vec<&str> = other.split_whitespace().take(2).collect();
    let known_hosts = dir.path().join("known_hosts");
    std::fs::write(
        &known_hosts,
        format!("{} {}\n", ns.address, other.join(" ")),
    )
    .unwrap();
    let host = ns.inventory_host(NS).var(
        "ansible_ssh_common_args",
        format!(
            "-o UserKnownHostsFile={} -o StrictHostKeyChecking=yes",
            known_hosts.display()
        ),
    );
    let run = Ansible::new("2.19")
        .play(
            &[host],
            json!([{"name": "probe", "tabiri.homelab.health_check": {"tcp": "127.0.0.1:9"}}]),
        )
        .run();
    run.assert_failure();
    assert_eq!(run.recap(NS).unreachable, 1, "{}", run.output());
    assert!(
        run.output().contains("Host key verification failed")
            || run
                .output()
                .contains("REMOTE HOST IDENTIFICATION HAS CHANGED"),
        "{}",
        run.output()
    );
}

// ---------------------------------------------------------------------------------------
// The binary cache of the action plugins: a module binary crosses the wire once per host.
// ---------------------------------------------------------------------------------------

#[test]
fn a_module_binary_is_copied_once_per_host_and_replaced_when_it_changes() {
    use std::os::unix::fs::PermissionsExt;

    let ns = ns_host();
    // Its own remote_tmp, so no other test shares (or races on) this cache.
    let remote_tmp = temp_dir("remote-tmp");
    let cache_dir = remote_tmp.path().join("tabiri-homelab");
    let sd_dir = temp_dir("cache-sd");
    let sd = path_str(sd_dir.path());
    let host = ns
        .inventory_host(NS)
        .var("ansible_remote_tmp", path_str(remote_tmp.path()));
    let task = |job: &str| {
        json!({
            "name": job,
            "tabiri.homelab.prometheus_target": {
                "job": job, "targets": ["127.0.0.1:9100"], "file_sd_dir": sd,
            }
        })
    };
    // The command that uploads a binary through stdin (and Ansible's own per-task copy).
    let uploads =
        |run: &acceptance_tests::ansible::RunResult| run.output().matches("cat > ").count();
    let standard_copies = |run: &acceptance_tests::ansible::RunResult| {
        run.output().matches("AnsiballZ_prometheus_target").count()
    };
    let ansible = Ansible::new("2.19");

    let run = ansible
        .play(
            std::slice::from_ref(&host),
            json!([task("one"), task("two"), task("three")]),
        )
        .verbose(3)
        .run();
    run.assert_success();
    assert_eq!(
        uploads(&run),
        1,
        "three tasks, one upload:\n{}",
        run.output()
    );
    assert_eq!(standard_copies(&run), 0, "{}", run.output());
    for job in ["one", "two", "three"] {
        assert!(run.ok(NS, job).changed);
        assert!(sd_dir.path().join(format!("{job}.json")).is_file(), "{job}");
    }
    // Learnt once, per remote user and remote_tmp (plays may log in as other users).
    let fact = run.ok(NS, "one").result["ansible_facts"]["tabiri_homelab_bin_dirs"].clone();
    let key = format!("root:{}", path_str(remote_tmp.path()));
    assert_eq!(
        fact,
        json!({ key: path_str(&cache_dir) }),
        "the cache dir fact"
    );
    let cached = dir_entries(&cache_dir);
    assert_eq!(cached.len(), 1, "{cached:?}");
    assert!(cached[0].starts_with("prometheus_target-"), "{cached:?}");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&cache_dir), 0o700, "cache dir mode");
    assert_eq!(mode(&cache_dir.join(&cached[0])), 0o700, "binary mode");
    // The arguments went through stdin: nothing else was ever written there.
    assert!(
        dir_entries(remote_tmp.path()) == ["tabiri-homelab"],
        "{:?}",
        dir_entries(remote_tmp.path())
    );

    // A build of another version in the cache (as after upgrading the collection): the
    // current one is uploaded on first use and the other version is removed.
    let stale = cache_dir.join("prometheus_target-0000000000000000");
    std::fs::rename(cache_dir.join(&cached[0]), &stale).unwrap();
    let run = ansible
        .play(
            std::slice::from_ref(&host),
            json!([task("four"), task("five")]),
        )
        .verbose(3)
        .run();
    run.assert_success();
    assert_eq!(uploads(&run), 1, "{}", run.output());
    assert_eq!(dir_entries(&cache_dir), cached, "the stale build is gone");

    // Turned off, Ansible's standard per-task copy runs the same module.
    let run = ansible
        .play(&[host], json!([task("six")]))
        .var("tabiri_homelab_binary_cache", false)
        .verbose(3)
        .run();
    run.assert_success();
    assert!(run.ok(NS, "six").changed);
    assert_eq!(uploads(&run), 0, "{}", run.output());
    assert!(standard_copies(&run) > 0, "{}", run.output());
    assert!(sd_dir.path().join("six.json").is_file());
}

// ---------------------------------------------------------------------------------------
// ansible-doc renders every module from the installed collection. (`ansible-doc -l` cannot
// list binary modules: it reads the binary before the sidecar and gives up with a warning.)
// ---------------------------------------------------------------------------------------

#[test]
fn ansible_doc_renders_every_module() {
    let config = temp_dir("ansible-doc");
    std::fs::write(config.path().join("ansible.cfg"), "[defaults]\n").unwrap();
    for ansible in Ansible::all() {
        for module in [
            "traefik_route",
            "prometheus_target",
            "health_check",
            "docker_logging",
        ] {
            let name = format!("tabiri.homelab.{module}");
            let text = run_ok(
                Command::new(ansible.bin_dir.join("ansible-doc"))
                    .args(["-t", "module", &name])
                    .env("ANSIBLE_COLLECTIONS_PATH", collections_path())
                    .env("ANSIBLE_CONFIG", config.path().join("ansible.cfg"))
                    .env("ANSIBLE_NOCOLOR", "1"),
            );
            for section in [
                &*format!("MODULE {name}"),
                "OPTIONS",
                "EXAMPLES",
                "RETURN VALUES",
            ] {
                assert!(
                    text.contains(section),
                    "{} {name}: no {section:?}:\n{text}",
                    ansible.version
                );
            }
        }
    }
}

fn run_ok(command: &mut Command) -> String {
    let output = command.output().expect("run");
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

// ---------------------------------------------------------------------------------------
// aarch64: the cross-built module under qemu-user.
// ---------------------------------------------------------------------------------------

#[test]
fn aarch64_module_runs_under_qemu() {
    let binary = repo_root().join("target/aarch64-unknown-linux-musl/module/traefik_route");
    assert!(
        binary.exists(),
        "{} is missing: run `cargo build --profile module --target aarch64-unknown-linux-musl \
         -p tabiri-homelab-modules` (or scripts/build-collection.sh)",
        binary.display()
    );
    // ELF e_machine 183 (EM_AARCH64), so qemu really runs an aarch64 build.
    let header = std::fs::read(&binary).expect("module binary");
    assert!(
        header.starts_with(b"\x7fELF") && header.get(18..20) == Some(&[183, 0][..]),
        "{} is not an aarch64 ELF binary",
        binary.display()
    );
    let dir = temp_dir("aarch64");
    let d = path_str(dir.path());
    let args = json!({
        "name": "arm",
        "config_dir": d,
        "rule": "Host(`arm.lab.localhost`)",
        "entrypoints": ["web"],
        "servers": ["http://127.0.0.1:9"],
        "priority": 10,
        "_ansible_check_mode": false,
        "_ansible_diff": true,
        "_ansible_no_log": false,
        "_ansible_verbosity": 0,
        "_ansible_version": "2.19.0",
        "_ansible_module_name": "tabiri.homelab.traefik_route",
        "_ansible_some_future_key": {"ignored": true},
    });
    let args_file = dir.path().join("args");
    std::fs::write(&args_file, args.to_string()).unwrap();
    let module = |args_file: &Path| -> Json {
        let output = Command::new("qemu-aarch64-static")
            .arg(&binary)
            .arg(args_file)
            .output()
            .expect("qemu-aarch64-static (Debian qemu-user-static)");
        let stdout = String::from_utf8_lossy(&output.stdout);
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "the module must print one JSON object ({e}):\n{stdout}\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        })
    };
    let first = module(&args_file);
    assert_eq!(first["changed"], true, "{first}");
    assert_ne!(first["failed"], true, "{first}");
    assert_eq!(first["action"], "create");
    assert!(
        first["diff"].is_object() || first["diff"].is_array(),
        "{first}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("arm.toml")).unwrap(),
        TraefikRoute {
            name: "arm".into(),
            config_dir: d.clone(),
            rule: "Host(`arm.lab.localhost`)".into(),
            entrypoints: vec!["web".into()],
            servers: vec!["http://127.0.0.1:9".into()],
            middlewares: vec![],
            priority: Some(10),
            pass_host_header: true,
            tls_cert_resolver: None,
            traefik_api_url: None,
        }
        .render()
    );
    let second = module(&args_file);
    assert_eq!(second["changed"], false, "{second}");

    let mut bad = args.clone();
    bad["rule"] = json!("Host(`arm.lab.localhost`");
    let bad_file = dir.path().join("bad-args");
    std::fs::write(&bad_file, bad.to_string()).unwrap();
    let failed = module(&bad_file);
    assert_eq!(failed["failed"], true, "{failed}");
    assert!(failed["msg"].as_str().unwrap_or_default().contains("rule"));
}

// ---------------------------------------------------------------------------------------
// examples/playbooks the way Semaphore UI runs it
// ---------------------------------------------------------------------------------------

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The files site.yml hard-codes (it exposes no variables for its paths), with their
/// contents, so the test can tell that a `--check` run wrote nothing.
fn site_yml_files() -> Vec<(&'static str, Option<Vec<u8>>)> {
    [
        "/etc/traefik/dynamic",
        "/etc/traefik/dynamic/nextcloud.toml",
        "/etc/traefik/dynamic/nextcloud.yml",
        "/etc/prometheus/file_sd",
        "/etc/prometheus/file_sd/node.json",
        "/etc/prometheus/file_sd/node.yml",
        "/etc/docker/daemon.json",
    ]
    .into_iter()
    .map(|p| {
        let meta = std::fs::metadata(p).ok();
        let content = match meta {
            Some(m) if m.is_dir() => Some(dir_entries(Path::new(p)).join("\n").into_bytes()),
            Some(_) => std::fs::read(p).ok(),
            None => None,
        };
        (p, content)
    })
    .collect()
}

/// What Semaphore does with `examples/playbooks` as a local repository: `ansible-galaxy
/// collection install -r collections/requirements.yml` from the repository's directory,
/// then `ansible-playbook -i <inventory> site.yml`, with the `edge` group holding the
/// namespace host (on 2.19, and on 2.18, Semaphore's newest).
///
/// site.yml hard-codes its paths (/etc/traefik/dynamic, /etc/prometheus/file_sd,
/// docker_logging's default /etc/docker/daemon.json) and the namespace host shares this
/// machine's filesystem, so it only runs with `--check --diff` (no real run, no `-e`), and
/// the test checks that nothing under those paths appeared or changed.
#[test]
fn semaphore_path_installs_from_requirements_and_runs_site_playbook() {
    let examples = repo_root().join("examples/playbooks");
    let requirements = std::fs::read_to_string(examples.join("collections/requirements.yml"))
        .expect("examples/playbooks/collections/requirements.yml");
    let name = requirements
        .lines()
        .find_map(|l| l.trim().strip_prefix("- name: "))
        .expect("a `- name:` in requirements.yml")
        .trim()
        .to_string();
    assert!(
        name.starts_with("../../dist/") && name.ends_with(".tar.gz"),
        "requirements.yml names {name}"
    );
    // The tarball as the unchanged requirements.yml finds it from examples/playbooks.
    let tarball = examples.join(&name);
    assert!(
        tarball.exists(),
        "{name} does not resolve from examples/playbooks: run scripts/build-collection.sh"
    );

    // Layout: the copy sits at <tmp>/examples/playbooks with the tarball at
    // <tmp>/dist/<file>, the same relative depth as in the repository, so the copied
    // requirements.yml stays byte for byte what ships (its `name:` is not rewritten).
    let tmp = temp_dir("semaphore");
    let project = tmp.path().join("examples/playbooks");
    copy_dir(&examples, &project);
    let copied_tarball = project.join(&name);
    std::fs::create_dir_all(copied_tarball.parent().unwrap()).unwrap();
    std::fs::copy(&tarball, &copied_tarball).unwrap();

    // The inventory: examples/playbooks/inventory.ini with the namespace host added to
    // `edge`, in the same INI format, with the harness's SSH settings as host variables.
    let host = ns_host().inventory_host("edge1");
    let mut line = host.name.clone();
    for (key, value) in &host.vars {
        match value {
            Json::String(s) if s.contains(' ') => line.push_str(&format!(" {key}=\"{s}\"")),
            Json::String(s) => line.push_str(&format!(" {key}={s}")),
            other => line.push_str(&format!(" {key}={other}")),
        }
    }
    let original_inventory = std::fs::read_to_string(examples.join("inventory.ini")).unwrap();
    let inventory = project.join("inventory.ini");
    std::fs::write(&inventory, format!("{original_inventory}{line}\n")).unwrap();
    let config = tmp.path().join("ansible.cfg");
    std::fs::write(&config, "[defaults]\n").unwrap();

    // The namespace host shares this machine's /etc: the outcome asserted below is that of
    // an edge host without Traefik's dynamic configuration directory.
    assert!(
        !Path::new("/etc/traefik/dynamic").exists(),
        "this test expects no /etc/traefik/dynamic on the machine running it"
    );
    let before = site_yml_files();
    for ansible in Ansible::all() {
        let v = &ansible.version;
        let installed = tmp.path().join(format!("collections_path-{v}"));
        let mut galaxy = Command::new(ansible.bin_dir.join("ansible-galaxy"));
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("ANSIBLE_") {
                galaxy.env_remove(key);
            }
        }
        let started = std::time::Instant::now();
        let output = galaxy
            .current_dir(&project)
            .args([
                "collection",
                "install",
                "-r",
                "collections/requirements.yml",
                "-p",
            ])
            .arg(&installed)
            .env("ANSIBLE_CONFIG", &config)
            .env("ANSIBLE_NOCOLOR", "1")
            .output()
            .expect("ansible-galaxy");
        let galaxy_out = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        eprintln!(
            "ansible-galaxy {v} [{:.1?}]\n{galaxy_out}",
            started.elapsed()
        );
        assert!(output.status.success(), "ansible-galaxy {v}:\n{galaxy_out}");
        assert!(
            galaxy_out.contains("tabiri.homelab:0.1.0 was installed successfully"),
            "ansible-galaxy {v}:\n{galaxy_out}"
        );
        let manifest: Json = serde_json::from_str(
            &std::fs::read_to_string(
                installed.join("ansible_collections/tabiri/homelab/MANIFEST.json"),
            )
            .expect("MANIFEST.json of the installed collection"),
        )
        .unwrap();
        assert_eq!(manifest["collection_info"]["version"], "0.1.0");

        let run = ansible
            .playbook_file(&project, &inventory, "site.yml", &installed)
            .check()
            .diff()
            .run();
        eprintln!("{} [{:.1?}]\n{}", run.command, run.elapsed, run.output());
        let h = "edge1";
        // site.yml gathers facts (no `gather_facts: false`), with `become: true`.
        run.ok(h, "Gathering Facts");
        // The first task already stops the dry run here: traefik_route needs its
        // config_dir to exist (site.yml does not set create_dir), even in check mode.
        // So prometheus_target, health_check (which needs https://nextcloud.example.org
        // to answer), docker_logging and the Restart Docker handler never run.
        let route = run.failed(h, "Route Nextcloud through Traefik");
        assert_eq!(route.action, "tabiri.homelab.traefik_route");
        assert!(
            route
                .msg
                .contains("config_dir: the directory /etc/traefik/dynamic does not exist"),
            "{}",
            route.result
        );
        let names: Vec<&str> = run.tasks.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            ["Gathering Facts", "Route Nextcloud through Traefik"],
            "{}",
            run.output()
        );
        run.assert_failure();
        assert_eq!(
            run.recap(h),
            &acceptance_tests::ansible::Recap {
                ok: 1,
                failed: 1,
                ..Default::default()
            },
            "{}",
            run.output()
        );
    }
    assert_eq!(site_yml_files(), before, "a --check run wrote into /etc");
}
