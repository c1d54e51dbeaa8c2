//! The plan of a stack: what happens to each service and each file. Pure: it compares the
//! desired stack and its model with what a read found, and changes nothing.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use super::model::{Actual, Model};
use super::ComposeStack;

/// Why a service's containers are made anew.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// Its resolved configuration differs from the one its container was made from.
    Config,
    /// Its image (tag) points at another image than the container runs.
    Image,
    /// A file it reads at start (bind mount, config, secret) changes.
    File(String),
    /// Its container is not running.
    Stopped(String),
    /// Its container's healthcheck fails.
    Unhealthy,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Config => write!(f, "configuration changed"),
            Reason::Image => write!(f, "image changed"),
            Reason::File(path) => write!(f, "{path} changed"),
            Reason::Stopped(state) => write!(f, "container {state}"),
            Reason::Unhealthy => write!(f, "container unhealthy"),
        }
    }
}

/// What happens to one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Unchanged,
    /// No container yet.
    Create,
    /// New containers, for the first reason found.
    Recreate(Reason),
    /// Containers of a service no longer in the compose file.
    RemoveOrphan,
}

/// What happens to one file of the project directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileChange {
    Create,
    Update,
    Unchanged,
}

/// The plan of a stack.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StackPlan {
    pub services: BTreeMap<String, Action>,
    pub files: BTreeMap<String, FileChange>,
}

impl StackPlan {
    pub fn is_empty(&self) -> bool {
        self.services.values().all(|a| *a == Action::Unchanged)
            && self.files.values().all(|c| *c == FileChange::Unchanged)
    }

    /// Services whose containers `up` would not remake by itself: a mounted file changed,
    /// or the container is stopped or unhealthy (`up --force-recreate` for these).
    pub fn forced(&self) -> Vec<String> {
        self.services
            .iter()
            .filter(|(_, a)| {
                matches!(
                    a,
                    Action::Recreate(Reason::File(_) | Reason::Stopped(_) | Reason::Unhealthy)
                )
            })
            .map(|(s, _)| s.clone())
            .collect()
    }

    /// One line per change: `web: recreate (image changed)`, `compose.yaml: update`.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for (path, change) in &self.files {
            match change {
                FileChange::Create => lines.push(format!("{path}: create")),
                FileChange::Update => lines.push(format!("{path}: update")),
                FileChange::Unchanged => {}
            }
        }
        for (service, action) in &self.services {
            match action {
                Action::Unchanged => {}
                Action::Create => lines.push(format!("{service}: create")),
                Action::Recreate(reason) => lines.push(format!("{service}: recreate ({reason})")),
                Action::RemoveOrphan => {
                    lines.push(format!("{service}: remove (not in the compose file)"))
                }
            }
        }
        lines
    }
}

/// Compares `desired` (with its `model`, resolved by Compose) with what a read found.
pub fn plan(desired: &ComposeStack, model: &Model, actual: &Actual) -> StackPlan {
    let dir = desired.dir();
    let mut files = BTreeMap::new();
    let mut changed_files = Vec::new();
    for (path, bytes) in desired.rendered_files() {
        let want = crate::files::sha256_hex(&bytes);
        let change = match actual.files.get(&path).cloned().flatten() {
            None => FileChange::Create,
            Some(have) if have == want => FileChange::Unchanged,
            Some(_) => FileChange::Update,
        };
        if change != FileChange::Unchanged {
            changed_files.push(path.clone());
        }
        files.insert(path, change);
    }
    let mut services = BTreeMap::new();
    for (name, service) in &model.services {
        let containers: Vec<_> = actual
            .containers
            .iter()
            .filter(|c| &c.service == name)
            .collect();
        let action = if containers.is_empty() {
            Action::Create
        } else if containers
            .iter()
            .any(|c| c.config_hash.as_deref() != model.hashes.get(name).map(String::as_str))
        {
            Action::Recreate(Reason::Config)
        } else if service
            .image
            .as_ref()
            .and_then(|i| model.images.get(i).cloned().flatten())
            .is_some_and(|id| containers.iter().any(|c| c.image_id != id))
        {
            Action::Recreate(Reason::Image)
        } else if let Some(path) = changed_files.iter().find(|path| {
            let file = dir.join(path);
            service.reads.iter().any(|read| reads(read, &file))
        }) {
            Action::Recreate(Reason::File(path.clone()))
        } else if let Some(stopped) = containers.iter().find(|c| c.state != "running") {
            Action::Recreate(Reason::Stopped(stopped.state.clone()))
        } else if containers
            .iter()
            .any(|c| c.health.as_deref() == Some("unhealthy"))
        {
            Action::Recreate(Reason::Unhealthy)
        } else {
            Action::Unchanged
        };
        services.insert(name.clone(), action);
    }
    for container in &actual.containers {
        if !model.services.contains_key(&container.service) {
            services.insert(container.service.clone(), Action::RemoveOrphan);
        }
    }
    StackPlan { services, files }
}

/// Whether a service reading `read` (a file, or a directory it mounts) sees `file`.
fn reads(read: &Path, file: &Path) -> bool {
    file.starts_with(read)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::model::{Container, ServiceModel};
    use crate::secret::Secret;
    use std::path::PathBuf;

    fn stack() -> ComposeStack {
        let mut s: ComposeStack = serde_json::from_value(serde_json::json!({
            "project": "exp",
            "compose": "services: {}\n",
            "project_dir": "/opt/s/exp",
        }))
        .unwrap();
        s.files.insert("www/index.html".into(), Secret::new("hi"));
        s
    }

    fn model() -> Model {
        let service = |reads: Vec<PathBuf>| ServiceModel {
            image: Some("img:1".into()),
            reads,
            start_interval: false,
        };
        Model {
            services: [
                (
                    "web".to_string(),
                    service(vec![PathBuf::from("/opt/s/exp/www")]),
                ),
                ("worker".to_string(), service(vec![])),
            ]
            .into(),
            hashes: [("web".into(), "h1".into()), ("worker".into(), "h2".into())].into(),
            images: [("img:1".into(), Some("sha256:i".into()))].into(),
            ..Model::default()
        }
    }

    fn container(service: &str, hash: &str) -> Container {
        Container {
            id: format!("id-{service}"),
            name: format!("exp-{service}-1"),
            service: service.into(),
            image_id: "sha256:i".into(),
            image: Some("img:1".into()),
            config_hash: Some(hash.into()),
            state: "running".into(),
            health: None,
            working_dir: None,
        }
    }

    fn converged(s: &ComposeStack) -> Actual {
        Actual {
            files: s
                .rendered_files()
                .iter()
                .map(|(k, v)| (k.clone(), Some(crate::files::sha256_hex(v))))
                .collect(),
            containers: vec![container("web", "h1"), container("worker", "h2")],
            ..Actual::default()
        }
    }

    #[test]
    fn converged_is_empty_and_each_change_names_its_service() {
        let s = stack();
        let m = model();
        let mut actual = converged(&s);
        assert!(plan(&s, &m, &actual).is_empty());

        let mut edited = s.clone();
        edited
            .files
            .insert("www/index.html".into(), Secret::new("new"));
        let p = plan(&edited, &m, &actual);
        assert_eq!(
            p.services["web"],
            Action::Recreate(Reason::File("www/index.html".into()))
        );
        assert_eq!(p.services["worker"], Action::Unchanged);
        assert_eq!(p.forced(), vec!["web".to_string()]);

        actual.containers[1].image_id = "sha256:old".into();
        assert_eq!(
            plan(&s, &m, &actual).services["worker"],
            Action::Recreate(Reason::Image)
        );
        actual.containers[1] = container("worker", "other");
        assert_eq!(
            plan(&s, &m, &actual).services["worker"],
            Action::Recreate(Reason::Config)
        );
        actual.containers[1] = container("worker", "h2");
        actual.containers[1].state = "exited".into();
        assert_eq!(
            plan(&s, &m, &actual).lines(),
            vec!["worker: recreate (container exited)".to_string()]
        );
        actual.containers.push(container("old", "x"));
        actual.containers.remove(0);
        let p = plan(&s, &m, &actual);
        assert_eq!(p.services["web"], Action::Create);
        assert_eq!(p.services["old"], Action::RemoveOrphan);
    }
}
