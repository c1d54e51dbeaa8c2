//! What Compose and the engine report, parsed: the desired model (`docker compose config
//! --format json`, `--hash`, `--images`), the project's containers (`docker inspect`), the
//! files in the project directory. Values from these outputs may hold secrets (the model
//! has the interpolated environment): they are parsed, never printed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::Deserialize;

/// The label Compose puts on every container of a project.
pub const PROJECT_LABEL: &str = "com.docker.compose.project";
pub const SERVICE_LABEL: &str = "com.docker.compose.service";
pub const CONFIG_HASH_LABEL: &str = "com.docker.compose.config-hash";
pub const ONEOFF_LABEL: &str = "com.docker.compose.oneoff";
pub const WORKING_DIR_LABEL: &str = "com.docker.compose.project.working_dir";

/// The lowest engine API version that runs `healthcheck.start_interval` (Engine 25).
const START_INTERVAL_API: (u32, u32) = (1, 44);

/// One service of the desired model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceModel {
    pub image: Option<String>,
    /// Host paths the service reads at start: bind-mount sources and the files of the
    /// configs and secrets it uses.
    pub reads: Vec<PathBuf>,
    /// Uses `healthcheck.start_interval`.
    pub start_interval: bool,
}

/// The desired model as Compose resolved it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Model {
    pub services: BTreeMap<String, ServiceModel>,
    /// Files of the top-level `secrets` (mode 0600 when the stack writes them).
    pub secret_files: BTreeSet<PathBuf>,
    /// `config --hash`: what Compose labels each service's containers with.
    pub hashes: BTreeMap<String, String>,
    /// Image name (`repository:tag`) to its ID on the host; an image of the model that is
    /// missing here is not on the host.
    pub images: BTreeMap<String, Option<String>>,
}

#[derive(Deserialize)]
struct RawModel {
    #[serde(default)]
    services: BTreeMap<String, RawService>,
    #[serde(default)]
    secrets: BTreeMap<String, RawFileRef>,
    #[serde(default)]
    configs: BTreeMap<String, RawFileRef>,
}

#[derive(Deserialize)]
struct RawService {
    image: Option<String>,
    #[serde(default)]
    volumes: Vec<RawVolume>,
    #[serde(default)]
    configs: Vec<RawUse>,
    #[serde(default)]
    secrets: Vec<RawUse>,
    healthcheck: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawVolume {
    #[serde(rename = "type")]
    kind: String,
    source: Option<String>,
}

#[derive(Deserialize)]
struct RawUse {
    source: String,
}

#[derive(Deserialize)]
struct RawFileRef {
    file: Option<String>,
}

impl Model {
    /// The model a stack was deployed with, from what was recorded then (service to config
    /// hash and image): enough to judge the containers when no file changed since.
    pub fn recorded(
        services: &BTreeMap<String, (String, Option<String>)>,
        on_host: &BTreeMap<String, String>,
    ) -> Self {
        let mut model = Model::default();
        for (name, (hash, image)) in services {
            model.hashes.insert(name.clone(), hash.clone());
            if let Some(image) = image {
                model
                    .images
                    .insert(image.clone(), on_host.get(&with_tag(image)).cloned());
            }
            model.services.insert(
                name.clone(),
                ServiceModel {
                    image: image.clone(),
                    ..ServiceModel::default()
                },
            );
        }
        model
    }

    /// Builds the model from `config --format json`, `config --hash '*'` (`service hash`
    /// lines) and the host's images as `image-id repository:tag` lines (`docker image ls`).
    pub fn parse(json: &str, hashes: &str, images: &str) -> Result<Self, String> {
        let raw: RawModel = serde_json::from_str(json)
            .map_err(|e| format!("cannot read `docker compose config --format json`: {e}"))?;
        let file_of = |refs: &BTreeMap<String, RawFileRef>, name: &str| {
            refs.get(name)
                .and_then(|r| r.file.clone())
                .map(PathBuf::from)
        };
        let mut services = BTreeMap::new();
        for (name, service) in &raw.services {
            let mut reads: Vec<PathBuf> = service
                .volumes
                .iter()
                .filter(|v| v.kind == "bind")
                .filter_map(|v| v.source.clone().map(PathBuf::from))
                .collect();
            reads.extend(
                service
                    .configs
                    .iter()
                    .filter_map(|u| file_of(&raw.configs, &u.source)),
            );
            reads.extend(
                service
                    .secrets
                    .iter()
                    .filter_map(|u| file_of(&raw.secrets, &u.source)),
            );
            let start_interval = service
                .healthcheck
                .as_ref()
                .is_some_and(|h| h.get("start_interval").is_some_and(|v| !v.is_null()));
            services.insert(
                name.clone(),
                ServiceModel {
                    image: service.image.clone(),
                    reads,
                    start_interval,
                },
            );
        }
        let secret_files = raw
            .secrets
            .values()
            .filter_map(|r| r.file.clone().map(PathBuf::from))
            .collect();
        let hashes = hashes
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(s, h)| (s.to_string(), h.trim().to_string()))
            .collect();
        let on_host = parse_images(images);
        let images = services
            .values()
            .filter_map(|s: &ServiceModel| s.image.clone())
            .map(|name| {
                let id = on_host.get(&with_tag(&name)).cloned();
                (name, id)
            })
            .collect();
        Ok(Self {
            services,
            secret_files,
            hashes,
            images,
        })
    }

    /// What the engine cannot run, as `(service, reason)`; `api` is the engine's API
    /// version (`1.41` for Engine 20.10).
    pub fn unsupported(&self, api: &str) -> Vec<(String, String)> {
        let version = parse_api(api);
        let mut found = Vec::new();
        for (name, service) in &self.services {
            if service.start_interval && version.is_some_and(|v| v < START_INTERVAL_API) {
                found.push((
                    name.clone(),
                    format!(
                        "healthcheck.start_interval needs Docker Engine 25 (API {}.{}); this engine speaks API {api}",
                        START_INTERVAL_API.0, START_INTERVAL_API.1
                    ),
                ));
            }
        }
        found
    }
}

/// `image-id repository:tag` lines (`docker image ls`) as name to ID.
pub fn parse_images(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(id, name)| (name.trim().to_string(), id.to_string()))
        .collect()
}

/// `name` as `docker image ls` spells it: `:latest` when no tag (or digest) is given.
fn with_tag(name: &str) -> String {
    let last = name.rsplit('/').next().unwrap_or(name);
    if last.contains(':') || name.contains('@') {
        name.to_string()
    } else {
        format!("{name}:latest")
    }
}

fn parse_api(text: &str) -> Option<(u32, u32)> {
    let (major, minor) = text.trim().split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// One container of the project, as `docker inspect` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub id: String,
    pub name: String,
    pub service: String,
    pub image_id: String,
    /// The image as the container was created from it (`repository:tag`).
    pub image: Option<String>,
    pub config_hash: Option<String>,
    /// `running`, `exited`, `created`...
    pub state: String,
    /// `healthy`, `unhealthy`, `starting`; `None` without a healthcheck.
    pub health: Option<String>,
    pub working_dir: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawContainer {
    id: String,
    name: String,
    image: String,
    state: RawState,
    config: RawConfig,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawState {
    status: String,
    health: Option<RawHealth>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawHealth {
    status: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawConfig {
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    image: Option<String>,
}

/// The project's containers from `docker inspect` output (a JSON array); one-off
/// containers (`docker compose run`) are left out.
pub fn parse_containers(json: &str) -> Result<Vec<Container>, String> {
    let raw: Vec<RawContainer> = serde_json::from_str(json)
        .map_err(|e| format!("cannot read `docker inspect` output: {e}"))?;
    let mut containers: Vec<Container> = raw
        .into_iter()
        .filter_map(|c| {
            let labels = c.config.labels.unwrap_or_default();
            if labels.get(ONEOFF_LABEL).is_some_and(|v| v == "True") {
                return None;
            }
            Some(Container {
                id: c.id,
                name: c.name.trim_start_matches('/').to_string(),
                service: labels.get(SERVICE_LABEL).cloned().unwrap_or_default(),
                image_id: c.image,
                image: c.config.image,
                config_hash: labels.get(CONFIG_HASH_LABEL).cloned(),
                state: c.state.status,
                health: c.state.health.map(|h| h.status),
                working_dir: labels.get(WORKING_DIR_LABEL).cloned(),
            })
        })
        .collect();
    containers.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(containers)
}

/// What a read found on the host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actual {
    /// SHA-256 of each file the stack manages, by relative path (`None`: missing).
    pub files: BTreeMap<String, Option<String>>,
    /// The compose file's text, when there is one.
    pub compose: Option<String>,
    pub containers: Vec<Container>,
    /// The engine's API version.
    pub api: String,
    /// The host's images, `repository:tag` to ID.
    pub images: BTreeMap<String, String>,
}

impl Actual {
    /// The project directory the containers were started from (their working-dir label).
    pub fn working_dir(&self) -> Option<&str> {
        self.containers
            .iter()
            .find_map(|c| c.working_dir.as_deref())
    }

    /// SHA-256 over the files as found (see `ComposeStack::content_sha256`).
    pub fn content_sha256(&self) -> String {
        super::content_sha256(self.files.iter().map(|(k, v)| (k.as_str(), v.clone())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const MODEL: &str = r#"{
      "name": "exp",
      "services": {
        "web": {
          "image": "tabiri-test/busybox:1",
          "volumes": [
            {"type": "bind", "source": "/opt/s/www", "target": "/www"},
            {"type": "volume", "source": "data", "target": "/data"}
          ],
          "secrets": [{"source": "token"}],
          "healthcheck": {"test": ["CMD", "true"], "start_interval": "1s"}
        },
        "worker": {"image": "tabiri-test/busybox:1"}
      },
      "secrets": {"token": {"name": "exp_token", "file": "/opt/s/secrets/token"}}
    }"#;

    #[test]
    fn model_knows_what_each_service_reads() {
        let model = Model::parse(
            MODEL,
            "web abc\nworker def\n",
            "sha256:1 tabiri-test/busybox:1\nsha256:9 other:2\n",
        )
        .unwrap();
        let web = &model.services["web"];
        assert_eq!(
            web.reads,
            vec![
                PathBuf::from("/opt/s/www"),
                PathBuf::from("/opt/s/secrets/token")
            ]
        );
        assert!(model
            .secret_files
            .contains(Path::new("/opt/s/secrets/token")));
        assert_eq!(model.hashes["worker"], "def");
        assert_eq!(
            model.images["tabiri-test/busybox:1"].as_deref(),
            Some("sha256:1")
        );
        assert_eq!(with_tag("nginx"), "nginx:latest");
        assert_eq!(with_tag("registry:5000/app"), "registry:5000/app:latest");
        let refused = model.unsupported("1.41");
        assert_eq!(refused.len(), 1);
        assert!(refused[0].1.contains("Docker Engine 25"), "{refused:?}");
        assert!(model.unsupported("1.44").is_empty());
    }

    #[test]
    fn containers_leave_one_offs_out() {
        let json = r#"[
          {"Id": "c1", "Name": "/exp-web-1", "Image": "sha256:1",
           "State": {"Status": "running", "Health": {"Status": "healthy"}},
           "Config": {"Labels": {"com.docker.compose.service": "web", "com.docker.compose.config-hash": "abc"}}},
          {"Id": "c2", "Name": "/exp-web-run-1", "Image": "sha256:1",
           "State": {"Status": "exited"},
           "Config": {"Labels": {"com.docker.compose.service": "web", "com.docker.compose.oneoff": "True"}}}
        ]"#;
        let found = parse_containers(json).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].name, "exp-web-1");
        assert_eq!(found[0].health.as_deref(), Some("healthy"));
    }
}
