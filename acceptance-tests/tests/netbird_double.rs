//! Self-tests of the NetBird double (`src/netbird_double.py`) and the stand-in agent
//! (`src/netbird_agent.py`) over real HTTP and real SSH: that the description checks catch what
//! they must, and that each server behaviour the provider will meet is there. Every test ends on
//! `assert_conforms`. Needs root (veth pairs, namespaces, mounts).

use acceptance_tests::netbird::{self, NetbirdDouble, DNS_DOMAIN};
use acceptance_tests::ssh_hosts::SshHost;
use serde_json::{json, Value as Json};

/// A request that must succeed; its answer.
fn ok(d: &NetbirdDouble, method: &str, path: &str, body: Option<Json>) -> Json {
    let (status, answer) = d.api(method, path, body);
    assert_eq!(status, 200, "{method} {path}: {answer}");
    answer
}

/// A request the double must refuse with this status and message (and the server's shape).
fn refused(
    d: &NetbirdDouble,
    method: &str,
    path: &str,
    body: Option<Json>,
    status: u16,
    message: &str,
) {
    let (got, answer) = d.api(method, path, body);
    assert_eq!(
        (got, answer["message"].as_str()),
        (status, Some(message)),
        "{method} {path}: {answer}"
    );
    assert_eq!(answer["code"], status, "{answer}");
}

fn all_group(d: &NetbirdDouble) -> String {
    let groups = ok(d, "GET", "/api/groups?name=All", None);
    groups[0]["id"].as_str().expect("All").to_string()
}

fn create_group(d: &NetbirdDouble, name: &str) -> String {
    ok(d, "POST", "/api/groups", Some(json!({"name": name})))["id"]
        .as_str()
        .expect("group id")
        .to_string()
}

fn setup_key(
    d: &NetbirdDouble,
    name: &str,
    kind: &str,
    usage_limit: u32,
    auto_groups: &[&str],
) -> Json {
    ok(
        d,
        "POST",
        "/api/setup-keys",
        Some(
            json!({"name": name, "type": kind, "expires_in": 86400, "auto_groups": auto_groups, "usage_limit": usage_limit}),
        ),
    )
}

fn enrol(d: &NetbirdDouble, key: &Json, hostname: &str) -> Json {
    d.enrol(key["key"].as_str().expect("clear key"), hostname)
        .unwrap_or_else(|e| panic!("enrol {hostname}: {e}"))
}

fn route_body(peer: &str, network: &str, groups: &[&str]) -> Json {
    json!({"description": "lab", "network_id": "lan", "enabled": true, "peer": peer, "network": network,
           "metric": 9999, "masquerade": true, "groups": groups, "keep_route": false})
}

fn rule(name: &str, protocol: &str, sources: &[&str], destinations: &[&str]) -> Json {
    json!({"name": name, "enabled": true, "action": "accept", "bidirectional": true, "protocol": protocol,
           "sources": sources, "destinations": destinations})
}

#[test]
fn requests_the_description_does_not_allow_are_refused_and_recorded() {
    let d = NetbirdDouble::start();
    refused(
        &d,
        "POST",
        "/api/groups",
        Some(json!({"peers": []})),
        400,
        "request does not match the API description: body: 'name' is a required property",
    );
    refused(
        &d,
        "POST",
        "/api/setup-keys",
        Some(json!({"name": "k", "type": "reusable", "expires_in": "1d", "auto_groups": [], "usage_limit": 0})),
        400,
        "request does not match the API description: body.expires_in: '1d' is not of type 'integer'",
    );
    // The description's range (one day to a year), though the server itself only refuses < 0.
    refused(
        &d,
        "POST",
        "/api/setup-keys",
        Some(json!({"name": "k", "type": "reusable", "expires_in": 3600, "auto_groups": [], "usage_limit": 0})),
        400,
        "request does not match the API description: body.expires_in: 3600 is less than the minimum of 86400",
    );
    let (status, answer) = d.api("GET", "/api/peers?hostname=web", None);
    assert_eq!(status, 400, "{answer}");
    // Peers are made by enrolment only: there is no POST /api/peers.
    let (status, _) = d.api("POST", "/api/peers", Some(json!({"name": "web"})));
    assert_eq!(status, 400);
    let web = create_group(&d, "web");
    let (status, _) = d.api(
        "DELETE",
        &format!("/api/groups/{web}"),
        Some(json!({"name": "web"})),
    );
    assert_eq!(status, 400);
    // An optional body left out is no violation, but the server cannot parse nothing.
    refused(
        &d,
        "PUT",
        &format!("/api/groups/{web}"),
        None,
        400,
        "couldn't parse JSON request",
    );

    let violations = d.take_violations();
    let expected = [
        "request POST /api/groups: body: 'name' is a required property",
        "request POST /api/setup-keys: body.expires_in: '1d' is not of type 'integer'",
        "request POST /api/setup-keys: body.expires_in: 3600 is less than the minimum of 86400",
        "request GET /api/peers?hostname=web: query.hostname: not a parameter of GET /api/peers",
        "request POST /api/peers: POST /api/peers is not an operation of the API description",
    ];
    assert_eq!(violations[..5], expected, "{violations:#?}");
    assert_eq!(violations.len(), 6, "{violations:#?}");
    assert!(
        violations[5].contains("DELETE /api/groups/{groupId} takes no request body"),
        "{violations:#?}"
    );
    let statuses: Vec<u16> = d.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [400, 400, 400, 400, 400, 200, 400, 400]);
    d.assert_conforms();
}

#[test]
fn answers_the_description_does_not_allow_are_caught() {
    let d = NetbirdDouble::start();
    d.break_next_response();
    let (status, _) = d.api("GET", "/api/groups", None);
    assert_eq!(status, 200, "a broken answer is still sent");
    assert_eq!(
        d.take_violations(),
        ["response 200 to GET /api/groups: body[0]: 'id' is a required property"]
    );

    let key = setup_key(&d, "k", "reusable", 0, &[]);
    let mut without_state = key.clone();
    without_state.as_object_mut().expect("key").remove("state");
    assert_eq!(
        d.check_response("POST", "/api/setup-keys", 200, without_state),
        ["body: 'state' is a required property"]
    );
    let mut null_groups = key.clone();
    null_groups["auto_groups"] = Json::Null;
    assert_eq!(
        d.check_response("GET", "/api/setup-keys/x", 200, null_groups),
        ["body.auto_groups: None is not of type 'array'"]
    );
    assert!(d
        .check_response("POST", "/api/setup-keys", 200, key.clone())
        .is_empty());
    assert_eq!(
        d.check_response("POST", "/api/setup-keys", 201, key),
        ["status 201 is not described for this operation"]
    );
    // The server's null for a group without peers is accepted (a listed deviation)...
    let group = json!({"id": "g", "name": "web", "issued": "api", "peers": null, "peers_count": 0,
                       "resources": null, "resources_count": 0});
    assert!(d
        .check_response("GET", "/api/groups/g", 200, group)
        .is_empty());
    // ...and so are its error answers on operations that do not list them.
    let conflict = json!({"message": "group with name web already exists", "code": 409});
    assert!(d
        .check_response("POST", "/api/groups", 409, conflict)
        .is_empty());
    d.assert_conforms();
}

#[test]
fn a_new_account_is_seeded_like_the_servers() {
    let d = NetbirdDouble::start();
    assert!(d.is_seeded());
    let all = all_group(&d);
    let groups = ok(&d, "GET", "/api/groups", None);
    assert_eq!(
        groups,
        json!([{"id": all, "name": "All", "issued": "api", "peers": null, "peers_count": 0,
                "resources": null, "resources_count": 0}])
    );
    let policies = ok(&d, "GET", "/api/policies", None);
    let default = &policies[0];
    assert_eq!(policies.as_array().map(Vec::len), Some(1));
    assert_eq!(default["name"], "Default");
    assert_eq!(default["enabled"], true);
    let minimum = json!([{"id": all, "name": "All", "peers_count": 0, "resources_count": 0}]);
    let rule = &default["rules"][0];
    assert_eq!(
        rule["id"], default["id"],
        "the first rule carries its policy's ID"
    );
    assert_eq!(
        (
            &rule["action"],
            &rule["bidirectional"],
            &rule["protocol"],
            &rule["sources"],
            &rule["destinations"]
        ),
        (
            &json!("accept"),
            &json!(true),
            &json!("all"),
            &minimum,
            &minimum
        )
    );
    assert_eq!(ok(&d, "GET", "/api/setup-keys", None), json!([]));
    assert_eq!(ok(&d, "GET", "/api/routes", None), json!([]));
    assert_eq!(ok(&d, "GET", "/api/peers", None), json!([]));
    create_group(&d, "web");
    assert!(!d.is_seeded());
    d.assert_conforms();
}

/// CRC-32 (IEEE), for a token the double did not issue but that is well formed.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in data {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn base62(mut n: u32) -> String {
    let alphabet = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    while n > 0 {
        out.push(alphabet[(n % 62) as usize]);
        n /= 62;
    }
    out.reverse();
    format!("{:0>6}", String::from_utf8(out).expect("ascii"))
}

#[test]
fn tokens_are_checked_like_the_server_checks_them() {
    let d = NetbirdDouble::start();
    assert!(
        d.token.starts_with("nbp_") && d.token.len() == 40,
        "{}",
        d.token
    );
    assert!(
        d.token[4..].chars().all(|c| c.is_ascii_alphanumeric()),
        "{}",
        d.token
    );
    let call = |auth: Option<&str>| {
        let answer = netbird::http(&d.address, "GET", "/api/groups", auth, None).expect("http");
        let message = answer.body["message"].as_str().unwrap_or_default();
        (answer.status, message.to_string())
    };
    assert_eq!(call(None), (401, "no valid authentication provided".into()));
    assert_eq!(call(Some("Token nbp_short")), (401, "token invalid".into()));
    assert_eq!(
        call(Some("Bearer eyJhbGciOiJIUzI1NiJ9.e30.x")),
        (401, "token invalid".into())
    );
    // A PAT sent as a bearer token is taken as a PAT.
    assert_eq!(call(Some(&format!("Bearer {}", d.token))).0, 200);
    // A broken checksum is as bad as a wrong length.
    let mut flipped = d.token.clone().into_bytes();
    flipped[10] = if flipped[10] == b'a' { b'b' } else { b'a' };
    let flipped = String::from_utf8(flipped).expect("ascii");
    assert_eq!(
        call(Some(&format!("Token {flipped}"))),
        (401, "token invalid".into())
    );
    // A well-formed token nobody issued: the server's PAT lookup answers 404.
    let secret = "abcdefghijklmnopqrstuvwxyzABCD";
    let stranger = format!("nbp_{secret}{}", base62(crc32(secret.as_bytes())));
    let (status, message) = call(Some(&format!("Token {stranger}")));
    assert_eq!(status, 404);
    assert!(
        message.starts_with("invalid token: pat: ") && message.ends_with(" not found"),
        "{message}"
    );
    d.assert_conforms();
}

#[test]
fn rate_limits_answer_429_then_recover() {
    let d = NetbirdDouble::start();
    d.rate_limit(2);
    for _ in 0..2 {
        let auth = format!("Token {}", d.token);
        let answer =
            netbird::http(&d.address, "GET", "/api/peers", Some(&auth), None).expect("http");
        assert_eq!(answer.status, 429);
        let body = json!({"message": "too many requests", "code": 429});
        assert_eq!(answer.body, body);
        let retry_after = ("retry-after".to_string(), "1".to_string());
        assert!(answer.headers.contains(&retry_after), "{answer:?}");
    }
    ok(&d, "GET", "/api/peers", None);
    let statuses: Vec<u16> = d.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 429, 200]);
    d.clear_requests();
    assert!(d.requests().is_empty());
    d.assert_conforms();
}

#[test]
fn setup_keys_behave_like_the_servers() {
    let d = NetbirdDouble::start();
    let all = all_group(&d);
    let web = create_group(&d, "web");
    let key = setup_key(&d, "lab", "reusable", 2, &[&web]);
    let clear = key["key"].as_str().expect("key").to_string();
    // Shown in clear text once, an upper-case UUID.
    assert_eq!(clear.len(), 36, "{clear}");
    assert!(
        clear
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase() || c == '-'),
        "{clear}"
    );
    assert_eq!(
        (&key["state"], &key["valid"], &key["used_times"]),
        (&json!("valid"), &json!(true), &json!(0))
    );
    assert_eq!(key["last_used"], "0001-01-01T00:00:00Z");
    let id = key["id"].as_str().expect("id");
    let masked = format!("{}****", &clear[..5]);
    assert_eq!(
        ok(&d, "GET", &format!("/api/setup-keys/{id}"), None)["key"],
        masked
    );
    assert_eq!(ok(&d, "GET", "/api/setup-keys", None)[0]["key"], masked);

    // Only auto_groups and revoked change.
    let updated = ok(
        &d,
        "PUT",
        &format!("/api/setup-keys/{id}"),
        Some(json!({"auto_groups": [], "revoked": false, "name": "renamed"})),
    );
    assert_eq!(
        (&updated["key"], &updated["name"], &updated["auto_groups"]),
        (&json!(masked), &json!("lab"), &json!([]))
    );
    refused(
        &d,
        "PUT",
        &format!("/api/setup-keys/{id}"),
        Some(json!({"auto_groups": [all], "revoked": false})),
        422,
        "invalid auto groups: can't add 'all' group to the setup key",
    );

    // Usage: counted, and a reusable key with a limit is used up at it.
    enrol(&d, &key, "one");
    enrol(&d, &key, "two");
    let used = ok(&d, "GET", &format!("/api/setup-keys/{id}"), None);
    assert_eq!(
        (&used["used_times"], &used["state"], &used["valid"]),
        (&json!(2), &json!("overused"), &json!(false))
    );
    assert_ne!(used["last_used"], "0001-01-01T00:00:00Z");
    assert_eq!(
        d.enrol(&clear, "three").unwrap_err(),
        "NotFound: couldn't add peer: setup key is invalid"
    );

    // One-off keys are pinned at one use; a limit above one is refused.
    assert_eq!(setup_key(&d, "once", "one-off", 0, &[])["usage_limit"], 1);
    refused(
        &d,
        "POST",
        "/api/setup-keys",
        Some(json!({"name": "once", "type": "one-off", "expires_in": 86400, "auto_groups": [], "usage_limit": 3})),
        422,
        "usage_limit 3 is not valid for a one-off setup key, which can be used once; use type reusable for a key that can be used more than once",
    );
    refused(
        &d,
        "POST",
        "/api/setup-keys",
        Some(
            json!({"name": "k", "type": "forever", "expires_in": 86400, "auto_groups": [], "usage_limit": 0}),
        ),
        422,
        "unknown setup key type forever",
    );

    // Revoking sticks.
    let other = setup_key(&d, "other", "reusable", 0, &[]);
    let other_id = other["id"].as_str().expect("id");
    let revoked = ok(
        &d,
        "PUT",
        &format!("/api/setup-keys/{other_id}"),
        Some(json!({"auto_groups": [], "revoked": true})),
    );
    assert_eq!(
        (&revoked["state"], &revoked["valid"]),
        (&json!("revoked"), &json!(false))
    );
    refused(
        &d,
        "PUT",
        &format!("/api/setup-keys/{other_id}"),
        Some(json!({"auto_groups": [], "revoked": false})),
        422,
        "can't un-revoke a revoked setup key",
    );

    // Expiry follows the clock.
    let fresh = setup_key(&d, "fresh", "reusable", 0, &[]);
    d.advance_clock(86_401);
    let expired = ok(
        &d,
        "GET",
        &format!("/api/setup-keys/{}", fresh["id"].as_str().expect("id")),
        None,
    );
    assert_eq!(
        (&expired["state"], &expired["valid"]),
        (&json!("expired"), &json!(false))
    );
    refused(
        &d,
        "DELETE",
        "/api/setup-keys/nope",
        None,
        404,
        "setup key: nope not found",
    );
    ok(&d, "DELETE", &format!("/api/setup-keys/{other_id}"), None);
    d.assert_conforms();
}

#[test]
fn groups_behave_like_the_servers() {
    let d = NetbirdDouble::start();
    let all = all_group(&d);
    let web = create_group(&d, "web");
    refused(
        &d,
        "POST",
        "/api/groups",
        Some(json!({"name": "web"})),
        409,
        "group with name web already exists",
    );
    refused(
        &d,
        "POST",
        "/api/groups",
        Some(json!({"name": "All"})),
        409,
        "group with name all already exists",
    );
    refused(
        &d,
        "POST",
        "/api/groups",
        Some(json!({"name": ""})),
        422,
        "group name shouldn't be empty",
    );

    let key = setup_key(&d, "k", "reusable", 0, &[]);
    let one = enrol(&d, &key, "one")["id"].clone();
    let two = enrol(&d, &key, "two")["id"].clone();
    // PUT replaces the whole membership.
    let g = ok(
        &d,
        "PUT",
        &format!("/api/groups/{web}"),
        Some(json!({"name": "web", "peers": [one]})),
    );
    assert_eq!(
        (&g["peers"], &g["peers_count"]),
        (&json!([{"id": one, "name": "one"}]), &json!(1))
    );
    let g = ok(
        &d,
        "PUT",
        &format!("/api/groups/{web}"),
        Some(json!({"name": "web", "peers": [two]})),
    );
    assert_eq!(g["peers"], json!([{"id": two, "name": "two"}]));
    let g = ok(
        &d,
        "PUT",
        &format!("/api/groups/{web}"),
        Some(json!({"name": "web"})),
    );
    assert_eq!((&g["peers"], &g["peers_count"]), (&Json::Null, &json!(0)));
    assert_eq!(
        ok(&d, "GET", &format!("/api/groups/{all}"), None)["peers_count"],
        2
    );

    // All cannot change or go.
    refused(
        &d,
        "PUT",
        &format!("/api/groups/{all}"),
        Some(json!({"name": "All", "peers": []})),
        422,
        "updating group all is not allowed",
    );
    refused(
        &d,
        "DELETE",
        &format!("/api/groups/{all}"),
        None,
        400,
        "deleting group ALL is not allowed",
    );

    // A group in use cannot go (400, messages not lowercased).
    let db = create_group(&d, "db");
    let policy = ok(
        &d,
        "POST",
        "/api/policies",
        Some(
            json!({"name": "Web Policy", "enabled": true, "rules": [rule("r", "tcp", &[&web], &[&all])]}),
        ),
    );
    refused(
        &d,
        "DELETE",
        &format!("/api/groups/{web}"),
        None,
        400,
        "group has been linked to policy: Web Policy",
    );
    ok(
        &d,
        "DELETE",
        &format!("/api/policies/{}", policy["id"].as_str().expect("id")),
        None,
    );
    let linked_key = setup_key(&d, "Lab Key", "reusable", 0, &[&web]);
    refused(
        &d,
        "DELETE",
        &format!("/api/groups/{web}"),
        None,
        400,
        "group has been linked to setup key: Lab Key",
    );
    ok(
        &d,
        "DELETE",
        &format!("/api/setup-keys/{}", linked_key["id"].as_str().expect("id")),
        None,
    );
    let route = ok(
        &d,
        "POST",
        "/api/routes",
        Some(route_body(
            one.as_str().expect("peer"),
            "10.0.0.0/24",
            &[&web],
        )),
    );
    refused(
        &d,
        "DELETE",
        &format!("/api/groups/{web}"),
        None,
        400,
        "group has been linked to route: lan",
    );
    ok(
        &d,
        "DELETE",
        &format!("/api/routes/{}", route["id"].as_str().expect("id")),
        None,
    );
    assert_eq!(
        ok(&d, "DELETE", &format!("/api/groups/{web}"), None),
        json!({})
    );
    refused(
        &d,
        "GET",
        &format!("/api/groups/{web}"),
        None,
        404,
        &format!("group: {web} not found"),
    );
    refused(
        &d,
        "DELETE",
        &format!("/api/groups/{web}"),
        None,
        400,
        &format!("group: {web} not found"),
    );
    // Names are checked on creation only.
    let renamed = ok(
        &d,
        "PUT",
        &format!("/api/groups/{db}"),
        Some(json!({"name": "All"})),
    );
    assert_eq!(renamed["name"], "All");
    refused(
        &d,
        "GET",
        "/api/groups?name=nope",
        None,
        404,
        "group: nope not found",
    );
    d.assert_conforms();
}

#[test]
fn policies_behave_like_the_servers() {
    let d = NetbirdDouble::start();
    let all = all_group(&d);
    let web = create_group(&d, "web");
    let mut ssh = rule("ssh", "tcp", &[&web], &[&all]);
    ssh["ports"] = json!(["22"]);
    let mut ping = rule("ping", "icmp", &[&web, "unknown-group"], &[&web]);
    ping["bidirectional"] = json!(false);
    let policy = ok(
        &d,
        "POST",
        "/api/policies",
        Some(json!({"name": "ops", "enabled": true, "rules": [ssh, ping]})),
    );
    let id = policy["id"].as_str().expect("id").to_string();
    let rules = policy["rules"].as_array().expect("rules");
    // Every new rule gets the policy's ID (so several share it).
    assert!(rules.iter().all(|r| r["id"] == policy["id"]), "{policy}");
    assert_eq!(
        rules[0]["sources"],
        json!([{"id": web, "name": "web", "peers_count": 0, "resources_count": 0}])
    );
    assert_eq!(rules[0]["destinations"][0]["name"], "All");
    assert_eq!(rules[0]["ports"], json!(["22"]));
    // The server shows a source group once per policy: the second rule's is gone (null), and
    // the unknown group was dropped.
    assert_eq!(rules[1]["sources"], Json::Null);
    assert_eq!(rules[1]["destinations"][0]["id"], json!(web));
    assert_eq!(policy["source_posture_checks"], Json::Null);
    assert_eq!(ok(&d, "GET", &format!("/api/policies/{id}"), None), policy);

    let mut icmp_ports = rule("r", "icmp", &[&web], &[&web]);
    icmp_ports["ports"] = json!(["80"]);
    refused(
        &d,
        "POST",
        "/api/policies",
        Some(json!({"name": "p", "enabled": true, "rules": [icmp_ports]})),
        422,
        "for all or icmp protocol ports is not allowed",
    );
    let mut all_ranges = rule("r", "all", &[&web], &[&web]);
    all_ranges["port_ranges"] = json!([{"start": 80, "end": 90}]);
    refused(
        &d,
        "POST",
        "/api/policies",
        Some(json!({"name": "p", "enabled": true, "rules": [all_ranges]})),
        422,
        "for all or icmp protocol ports is not allowed",
    );
    let mut bad_port = rule("r", "tcp", &[&web], &[&web]);
    bad_port["ports"] = json!(["70000"]);
    refused(
        &d,
        "POST",
        "/api/policies",
        Some(json!({"name": "p", "enabled": true, "rules": [bad_port]})),
        422,
        "valid port value is in 1..65535 range",
    );
    refused(
        &d,
        "POST",
        "/api/policies",
        Some(json!({"name": "p", "enabled": true, "rules": []})),
        422,
        "policy rules shouldn't be empty",
    );
    let mut no_destinations = rule("r", "tcp", &[&web], &[]);
    no_destinations
        .as_object_mut()
        .expect("rule")
        .remove("destinations");
    refused(
        &d,
        "POST",
        "/api/policies",
        Some(json!({"name": "p", "enabled": true, "rules": [no_destinations]})),
        422,
        "specify either sources or source resources and destinations or destination resources",
    );

    // Updates name existing rule IDs only.
    let mut unknown = rule("r", "tcp", &[&web], &[&web]);
    unknown["id"] = json!("nope");
    refused(
        &d,
        "PUT",
        &format!("/api/policies/{id}"),
        Some(json!({"name": "ops", "enabled": true, "rules": [unknown]})),
        422,
        "invalid rule id: nope",
    );
    let mut kept = rule("ssh", "udp", &[&web], &[&web]);
    kept["id"] = json!(id);
    let updated = ok(
        &d,
        "PUT",
        &format!("/api/policies/{id}"),
        Some(
            json!({"name": "ops", "enabled": false, "source_posture_checks": [], "rules": [kept]}),
        ),
    );
    assert_eq!(
        (
            &updated["enabled"],
            &updated["rules"][0]["protocol"],
            &updated["source_posture_checks"]
        ),
        (&json!(false), &json!("udp"), &json!([]))
    );
    ok(&d, "DELETE", &format!("/api/policies/{id}"), None);
    refused(
        &d,
        "GET",
        &format!("/api/policies/{id}"),
        None,
        404,
        &format!("policy: {id} not found"),
    );
    d.assert_conforms();
}

#[test]
fn routes_behave_like_the_servers() {
    let d = NetbirdDouble::start();
    let web = create_group(&d, "web");
    let key = setup_key(&d, "k", "reusable", 0, &[&web]);
    let peer = enrol(&d, &key, "router")["id"]
        .as_str()
        .expect("id")
        .to_string();
    let route = ok(
        &d,
        "POST",
        "/api/routes",
        Some(route_body(&peer, "10.0.0.7/24", &[&web])),
    );
    assert_eq!(
        (
            &route["network"],
            &route["network_type"],
            &route["peer"],
            &route["domains"],
            &route["metric"]
        ),
        (
            &json!("10.0.0.0/24"),
            &json!("IPv4"),
            &json!(peer),
            &Json::Null,
            &json!(9999)
        )
    );
    assert!(route.get("peer_groups").is_none(), "{route}");
    let id = route["id"].as_str().expect("id").to_string();

    let mut both = route_body(&peer, "10.1.0.0/24", &[&web]);
    both["peer_groups"] = json!([web]);
    refused(
        &d,
        "POST",
        "/api/routes",
        Some(both),
        422,
        "only one of 'peer' or 'peer_groups' should be provided",
    );
    let mut neither = route_body(&peer, "10.1.0.0/24", &[&web]);
    neither.as_object_mut().expect("route").remove("peer");
    refused(
        &d,
        "POST",
        "/api/routes",
        Some(neither),
        422,
        "either 'peer' or 'peer_groups' should be provided",
    );
    refused(
        &d,
        "POST",
        "/api/routes",
        Some(route_body(&peer, "10.0.0.300/24", &[&web])),
        422,
        "invalid network 10.0.0.300/24",
    );
    refused(
        &d,
        "POST",
        "/api/routes",
        Some(route_body(&peer, "10.1.0.0/24", &[])),
        422,
        "the list of group ids should not be empty",
    );
    refused(
        &d,
        "POST",
        "/api/routes",
        Some(route_body(&peer, "10.1.0.0/24", &["nope"])),
        422,
        "group id nope not found",
    );
    refused(
        &d,
        "POST",
        "/api/routes",
        Some(route_body("nope", "10.1.0.0/24", &[&web])),
        422,
        "peer with id nope not found",
    );
    let mut metric = route_body(&peer, "10.1.0.0/24", &[&web]);
    metric["metric"] = json!(0);
    let (status, _) = d.api("POST", "/api/routes", Some(metric));
    assert_eq!(status, 400, "the description's range (1..9999)");
    d.take_violations();

    // One route per prefix per routing peer, checked through peer groups.
    let mut grouped = route_body("", "10.2.0.0/16", &[&web]);
    grouped.as_object_mut().expect("route").remove("peer");
    grouped["peer_groups"] = json!([web]);
    let by_group = ok(&d, "POST", "/api/routes", Some(grouped.clone()));
    assert_eq!(
        (&by_group["peer"], &by_group["peer_groups"]),
        (&json!(""), &json!([web]))
    );
    refused(
        &d,
        "POST",
        "/api/routes",
        Some(grouped),
        409,
        "failed to add route with prefix 10.2.0.0/16 - peer group web already has this route",
    );
    refused(
        &d,
        "POST",
        "/api/routes",
        Some(route_body(&peer, "10.2.0.0/16", &[&web])),
        409,
        &format!(
            "failed to add route with prefix 10.2.0.0/16 - peer {peer} already has this route"
        ),
    );

    let mut domains = route_body(&peer, "", &[&web]);
    domains.as_object_mut().expect("route").remove("network");
    domains["domains"] = json!(["example.com"]);
    let dynamic = ok(&d, "POST", "/api/routes", Some(domains));
    assert_eq!(
        (
            &dynamic["network"],
            &dynamic["network_type"],
            &dynamic["domains"]
        ),
        (
            &json!("192.0.2.0/32"),
            &json!("Domain"),
            &json!(["example.com"])
        )
    );

    let mut update = route_body(&peer, "10.0.0.0/24", &[&web]);
    update["enabled"] = json!(false);
    update["metric"] = json!(10);
    let updated = ok(&d, "PUT", &format!("/api/routes/{id}"), Some(update));
    assert_eq!(
        (&updated["enabled"], &updated["metric"], &updated["id"]),
        (&json!(false), &json!(10), &json!(id))
    );
    ok(&d, "DELETE", &format!("/api/routes/{id}"), None);
    refused(
        &d,
        "GET",
        &format!("/api/routes/{id}"),
        None,
        404,
        &format!("route: {id} not found"),
    );
    d.assert_conforms();
}

#[test]
fn peers_behave_like_the_servers() {
    let d = NetbirdDouble::start();
    let key = setup_key(&d, "k", "reusable", 0, &[]);
    let first = enrol(&d, &key, "Web-Server");
    let second = enrol(&d, &key, "Web-Server");
    let db = enrol(&d, &key, "db.lab.example");
    // The first keeps the hostname's label; a collision gets one suffixed with its address.
    assert_eq!(first["dns_label"], "web-server");
    let ip: Vec<&str> = second["ip"].as_str().expect("ip").split('.').collect();
    assert_eq!(
        second["dns_label"],
        json!(format!("web-server-{}-{}", ip[2], ip[3]))
    );
    assert_eq!(db["dns_label"], "db");
    assert_ne!(first["ip"], second["ip"]);

    let peer = ok(
        &d,
        "GET",
        &format!("/api/peers/{}", first["id"].as_str().expect("id")),
        None,
    );
    assert_eq!(
        (&peer["name"], &peer["hostname"], &peer["ip"]),
        (&json!("Web-Server"), &json!("Web-Server"), &first["ip"])
    );
    assert_eq!(peer["dns_label"], json!(format!("web-server.{DNS_DOMAIN}")));
    assert_eq!(peer["groups"][0]["name"], "All");
    assert_eq!(
        (
            &peer["connected"],
            &peer["login_expiration_enabled"],
            &peer["user_id"]
        ),
        (&json!(true), &json!(false), &json!(""))
    );

    // ?name= is a case-insensitive substring match, ?ip= too.
    let names = |query: &str| -> Vec<String> {
        ok(&d, "GET", &format!("/api/peers?{query}"), None)
            .as_array()
            .expect("peers")
            .iter()
            .map(|p| p["id"].as_str().expect("id").to_string())
            .collect()
    };
    assert_eq!(
        names("name=server"),
        [
            first["id"].as_str().expect("id"),
            second["id"].as_str().expect("id")
        ]
    );
    assert_eq!(names("name=DB"), [db["id"].as_str().expect("id")]);
    assert_eq!(
        names(&format!("ip={}", first["ip"].as_str().expect("ip"))),
        [first["id"].as_str().expect("id")]
    );
    assert!(names("name=nothing").is_empty());

    // Renaming moves the label; a taken one gets the address suffix.
    let id = first["id"].as_str().expect("id");
    let renamed = ok(
        &d,
        "PUT",
        &format!("/api/peers/{id}"),
        Some(json!({"name": "frontend", "ssh_enabled": true,
        "login_expiration_enabled": false, "inactivity_expiration_enabled": false})),
    );
    assert_eq!(
        (&renamed["dns_label"], &renamed["ssh_enabled"]),
        (&json!(format!("frontend.{DNS_DOMAIN}")), &json!(true))
    );
    let fip: Vec<&str> = first["ip"].as_str().expect("ip").split('.').collect();
    let taken = ok(
        &d,
        "PUT",
        &format!("/api/peers/{id}"),
        Some(json!({"name": "db", "ssh_enabled": true,
        "login_expiration_enabled": false, "inactivity_expiration_enabled": false})),
    );
    assert_eq!(
        taken["dns_label"],
        json!(format!("db-{}-{}.{DNS_DOMAIN}", fip[2], fip[3]))
    );
    refused(&d, "PUT", &format!("/api/peers/{id}"), Some(json!({"name": "db", "ssh_enabled": true,
        "login_expiration_enabled": true, "inactivity_expiration_enabled": false})), 412,
        "this peer hasn't been added with the sso login, therefore the login expiration can't be updated");

    ok(&d, "DELETE", &format!("/api/peers/{id}"), None);
    refused(
        &d,
        "GET",
        &format!("/api/peers/{id}"),
        None,
        404,
        &format!("peer not found: {id}"),
    );
    refused(
        &d,
        "DELETE",
        &format!("/api/peers/{id}"),
        None,
        404,
        &format!("peer {id} account not found"),
    );
    let all = ok(&d, "GET", "/api/groups?name=All", None);
    assert_eq!(all[0]["peers_count"], 2);
    d.assert_conforms();
}

/// Writes a setup key into a file on the host (the filesystem is shared), readable by root only.
fn key_file(host: &SshHost, key: &str) -> String {
    let path = host.dir.join("setup.key");
    std::fs::write(&path, format!("{key}\n")).expect("key file");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    path.display().to_string()
}

fn api_peers(d: &NetbirdDouble) -> Vec<Json> {
    ok(d, "GET", "/api/peers", None)
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn the_agent_enrols_reconnects_and_deregisters() {
    let d = NetbirdDouble::start();
    let host = SshHost::start();
    let agent = d.install_agent(&host);
    let fresh = agent.status(&host);
    assert_eq!(
        (&fresh["daemonStatus"], &fresh["netbirdIp"], &fresh["fqdn"]),
        (&json!("NeedsLogin"), &json!(""), &json!(""))
    );
    assert_eq!(fresh["cliVersion"], fresh["daemonVersion"]);

    let key = setup_key(&d, "lab", "reusable", 0, &[]);
    let clear = key["key"].as_str().expect("key");
    let file = key_file(&host, clear);
    let up = agent.run(
        &host,
        &format!(
            "netbird up --management-url {} --setup-key-file {file}",
            d.url
        ),
    );
    assert_eq!((up.code, up.stdout.trim()), (0, "Connected"), "{up:?}");
    let status = agent.status(&host);
    let peers = api_peers(&d);
    assert_eq!(peers.len(), 1, "{peers:?}");
    let peer = &peers[0];
    assert_eq!(status["daemonStatus"], "Connected");
    assert_eq!(
        status["netbirdIp"],
        json!(format!("{}/16", peer["ip"].as_str().expect("ip")))
    );
    assert_eq!(status["fqdn"], peer["dns_label"]);
    assert_eq!(
        (
            &status["management"]["url"],
            &status["management"]["connected"]
        ),
        (&json!(d.url), &json!(true))
    );
    assert_eq!(peer["connected"], true);
    assert_eq!(
        peer["connection_ip"],
        json!(host.address),
        "the agent came from its namespace"
    );
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname");
    assert_eq!(
        peer["hostname"],
        json!(hostname.trim()),
        "every namespace host shares the machine's hostname"
    );

    // Connected already: every new flag is ignored.
    let again = agent.run(
        &host,
        "netbird up -m http://10.0.0.1:1 -k 00000000-0000-0000-0000-000000000000 -n other",
    );
    assert_eq!(
        (again.code, again.stdout.trim()),
        (0, "Already connected"),
        "{again:?}"
    );

    let down = agent.run(&host, "netbird down");
    assert_eq!(
        (down.code, down.stdout.trim()),
        (0, "Disconnected"),
        "{down:?}"
    );
    assert_eq!(agent.status(&host)["daemonStatus"], "Idle");
    assert_eq!(api_peers(&d)[0]["connected"], false);

    // A known identity logs in again without a key, as the same peer.
    let back = agent.run(&host, "netbird up");
    assert_eq!(
        (back.code, back.stdout.trim()),
        (0, "Connected"),
        "{back:?}"
    );
    assert_eq!(api_peers(&d)[0]["id"], peer["id"]);
    assert_eq!(
        ok(
            &d,
            "GET",
            &format!("/api/setup-keys/{}", key["id"].as_str().expect("id")),
            None
        )["used_times"],
        1
    );

    // Deleted behind its back: the agent needs a login, and a new enrolment is a new peer.
    ok(
        &d,
        "DELETE",
        &format!("/api/peers/{}", peer["id"].as_str().expect("id")),
        None,
    );
    assert_eq!(agent.status(&host)["daemonStatus"], "NeedsLogin");
    let no_key = agent.run(&host, "netbird up");
    assert_eq!(no_key.code, 1, "{no_key:?}");
    assert!(
        no_key.stderr.contains("no peer auth method provided"),
        "{no_key:?}"
    );
    let rejoin = agent.run(&host, &format!("NB_SETUP_KEY=$(cat {file}) netbird up"));
    assert_eq!(
        (rejoin.code, rejoin.stdout.trim()),
        (0, "Connected"),
        "{rejoin:?}"
    );
    let renewed = api_peers(&d);
    assert_eq!(renewed.len(), 1);
    assert_ne!(renewed[0]["id"], peer["id"], "a new peer ID");
    assert_ne!(
        renewed[0]["ip"], peer["ip"],
        "a new address, never a reused one"
    );

    // The key never travelled on a command line, though the file and the variable were used.
    let log = agent.argv_log();
    assert!(!log.contains(clear), "{log}");
    assert!(
        log.contains("--setup-key-file") && log.contains("\"NB_SETUP_KEY\""),
        "{log}"
    );
    assert!(log.lines().count() >= 8, "{log}");

    // logout is deregister: the peer goes from the management server too.
    let logout = agent.run(&host, "netbird logout");
    assert_eq!(
        (logout.code, logout.stdout.trim()),
        (0, "Deregistered successfully"),
        "{logout:?}"
    );
    assert!(api_peers(&d).is_empty());
    assert_eq!(agent.status(&host)["daemonStatus"], "NeedsLogin");

    // A reinstalled machine: the peer stays, the agent starts over.
    let join = agent.run(
        &host,
        &format!("netbird up -m {} --setup-key-file {file}", d.url),
    );
    assert_eq!(join.code, 0, "{join:?}");
    agent.forget_identity();
    assert_eq!(agent.status(&host)["daemonStatus"], "NeedsLogin");
    assert_eq!(api_peers(&d).len(), 1);
    d.assert_conforms();
}

#[test]
fn used_up_keys_fail_and_hidden_enrolments_stay_hidden() {
    let d = NetbirdDouble::start();
    let host = SshHost::start();
    let agent = d.install_agent(&host);
    let once = setup_key(&d, "once", "one-off", 0, &[]);
    let file = key_file(&host, once["key"].as_str().expect("key"));
    let first = agent.run(
        &host,
        &format!(
            "NB_MANAGEMENT_URL={} netbird up --setup-key-file {file}",
            d.url
        ),
    );
    assert_eq!(first.code, 0, "{first:?}");
    agent.forget_identity();
    let second = agent.run(
        &host,
        &format!("netbird up -m {} --setup-key-file {file}", d.url),
    );
    assert_eq!(second.code, 1, "{second:?}");
    assert!(
        second
            .stderr
            .contains("couldn't add peer: setup key is invalid"),
        "{second:?}"
    );
    assert_eq!(agent.status(&host)["daemonStatus"], "LoginFailed");
    assert_eq!(api_peers(&d).len(), 1);

    d.hide_enrolments(true);
    let key = setup_key(&d, "lab", "reusable", 0, &[]);
    let file = key_file(&host, key["key"].as_str().expect("key"));
    let hidden = agent.run(
        &host,
        &format!("netbird up -m {} --setup-key-file {file}", d.url),
    );
    assert_eq!(hidden.code, 0, "{hidden:?}");
    let status = agent.status(&host);
    assert_eq!(status["daemonStatus"], "Connected");
    assert!(
        status["netbirdIp"]
            .as_str()
            .is_some_and(|ip| ip.starts_with("100.")),
        "{status}"
    );
    assert_eq!(api_peers(&d).len(), 1, "the enrolment never shows");
    assert_eq!(d.account()["peers"].as_array().map(Vec::len), Some(1));
    d.assert_conforms();
}

#[test]
fn clones_get_distinct_labels_and_a_down_server_refuses_connections() {
    let d = NetbirdDouble::start();
    let a = SshHost::start();
    let b = SshHost::start();
    let key = setup_key(&d, "lab", "reusable", 0, &[]);
    let agents = [(d.install_agent(&a), &a), (d.install_agent(&b), &b)];
    for (agent, host) in &agents {
        let file = key_file(host, key["key"].as_str().expect("key"));
        let up = agent.run(
            host,
            &format!("netbird up -m {} --setup-key-file {file}", d.url),
        );
        assert_eq!(up.code, 0, "{up:?}");
    }
    let fqdns: Vec<Json> = agents
        .iter()
        .map(|(agent, host)| agent.status(host)["fqdn"].clone())
        .collect();
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname");
    let label = hostname
        .trim()
        .split('.')
        .next()
        .expect("label")
        .to_ascii_lowercase();
    assert_eq!(fqdns[0], json!(format!("{label}.{DNS_DOMAIN}")));
    let second = fqdns[1].as_str().expect("fqdn");
    assert!(
        second.starts_with(&format!("{label}-")) && second.ends_with(DNS_DOMAIN),
        "{fqdns:?}"
    );

    d.down(true);
    let (status, _) = d.api("GET", "/api/peers", None);
    assert_eq!(status, 0, "connections are refused");
    let (agent, host) = &agents[0];
    let refused_there = agent.run(
        host,
        &format!(
            "curl -s -o /dev/null -w '%{{http_code}}' {}/api/peers",
            d.url
        ),
    );
    assert_ne!(refused_there.code, 0, "{refused_there:?}");
    let status = agent.status(host);
    assert_eq!(
        (&status["daemonStatus"], &status["management"]["connected"]),
        (&json!("Connected"), &json!(false))
    );
    d.down(false);
    assert_eq!(api_peers(&d).len(), 2, "the account was kept");
    assert_eq!(agent.status(host)["management"]["connected"], true);
    d.assert_conforms();
}
