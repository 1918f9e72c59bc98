//! What Portainer keeps in its database (`/data/portainer.db`), as the simulator persists it:
//! users (password hashes only), API keys (digests only), environments, stacks with their
//! compose file and env, plus the Docker hosts' compose projects, which live on the agents and
//! so survive a loss of Portainer's data.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::SimError;

pub const ADMIN_ROLE: u8 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct User {
    pub id: u32,
    pub username: String,
    /// Salted hash (see crypto::hash_password); the password itself is never stored.
    pub password_hash: String,
    /// 1 administrator, 2 standard user (api/portainer.go UserRole).
    pub role: u8,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ApiKey {
    pub id: u32,
    pub user_id: u32,
    pub description: String,
    /// The first 7 characters of the raw key (`ptr_` + 3), shown in the UI.
    pub prefix: String,
    pub date_created: i64,
    pub last_used: i64,
    /// base64(sha256(raw key)), as api/apikey/service.go stores it; the raw key is not kept.
    pub digest: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Endpoint {
    pub id: u32,
    pub name: String,
    /// 1 Docker, 2 Agent on Docker (api/portainer.go EndpointType).
    pub kind: u8,
    pub url: String,
    pub public_url: String,
    pub group_id: u32,
    pub tls: bool,
    pub tls_skip_verify: bool,
    pub tag_ids: Vec<u32>,
    /// 1 up, 2 down.
    pub status: u8,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EnvPair {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Stack {
    pub id: u32,
    /// Normalised (lower-case, `[-_a-z0-9]` only) as Portainer stores it.
    pub name: String,
    /// 1 swarm, 2 compose, 3 kubernetes.
    pub kind: u8,
    pub endpoint_id: u32,
    pub file_content: String,
    /// `None` when the request had no `Env` (Portainer then answers `"Env": null`).
    pub env: Option<Vec<EnvPair>>,
    /// 1 active, 2 inactive.
    pub status: u8,
    pub creation_date: i64,
    pub created_by: String,
    pub update_date: i64,
    pub updated_by: String,
}

/// Portainer's database. `next_*` are the datastore's identifier sequences: like BoltDB's, they
/// never reuse a deleted identifier.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PortainerDb {
    pub instance_id: String,
    pub users: Vec<User>,
    pub api_keys: Vec<ApiKey>,
    pub endpoints: Vec<Endpoint>,
    pub stacks: Vec<Stack>,
    pub next_user_id: u32,
    pub next_api_key_id: u32,
    pub next_endpoint_id: u32,
    pub next_stack_id: u32,
}

impl PortainerDb {
    pub fn empty(instance_id: String) -> Self {
        PortainerDb {
            instance_id,
            users: Vec::new(),
            api_keys: Vec::new(),
            endpoints: Vec::new(),
            stacks: Vec::new(),
            next_user_id: 1,
            next_api_key_id: 1,
            next_endpoint_id: 1,
            next_stack_id: 1,
        }
    }

    pub fn has_admin(&self) -> bool {
        self.users.iter().any(|u| u.role == ADMIN_ROLE)
    }

    pub fn user(&self, id: u32) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }

    pub fn endpoint(&self, id: u32) -> Option<&Endpoint> {
        self.endpoints.iter().find(|e| e.id == id)
    }

    pub fn stack(&self, id: u32) -> Option<&Stack> {
        self.stacks.iter().find(|s| s.id == id)
    }

    pub fn stack_mut(&mut self, id: u32) -> Option<&mut Stack> {
        self.stacks.iter_mut().find(|s| s.id == id)
    }
}

/// Everything the simulator persists: Portainer's database and the world around it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PortainerState {
    pub db: PortainerDb,
    /// Compose projects running on each Docker host, keyed by the host's environment URL
    /// (`tcp://10.0.0.5:9001`). Portainer refuses a new stack whose name is already a project
    /// there (`com.docker.compose.project` label), even when its own database forgot it.
    #[serde(default)]
    pub docker_projects: BTreeMap<String, BTreeSet<String>>,
    /// Agent URLs whose `/ping` does not answer (agent down, firewall): creating an agent
    /// environment for them fails like Portainer's ping does.
    #[serde(default)]
    pub unreachable_agents: BTreeSet<String>,
}

impl PortainerState {
    pub fn fresh() -> Result<Self, String> {
        Ok(PortainerState {
            db: PortainerDb::empty(super::crypto::uuid_v4()?),
            docker_projects: BTreeMap::new(),
            unreachable_agents: BTreeSet::new(),
        })
    }

    /// Read a saved state; a missing file is a fresh Portainer (first start on an empty volume).
    pub fn load(path: &Path) -> Result<Self, SimError> {
        match std::fs::read(path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|source| SimError::Json { path: path.to_path_buf(), source })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Self::fresh().map_err(|reason| SimError::Refused { path: path.display().to_string(), reason })
            }
            Err(source) => Err(SimError::Io { path: path.to_path_buf(), source }),
        }
    }

    /// Write atomically (temp file in the same directory, then rename), so a crash mid-write
    /// leaves the previous state, never half a file.
    pub fn save(&self, path: &Path) -> Result<(), SimError> {
        let io = |source| SimError::Io { path: path.to_path_buf(), source };
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
        let text =
            serde_json::to_vec_pretty(self).map_err(|source| SimError::Json { path: path.to_path_buf(), source })?;
        std::io::Write::write_all(&mut tmp, &text).map_err(io)?;
        tmp.persist(path).map_err(|e| io(e.error))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_then_load_round_trips_and_missing_file_is_fresh() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lab.portainer.json");
        let fresh = PortainerState::load(&path).unwrap();
        assert!(fresh.db.users.is_empty());
        let mut s = fresh.clone();
        s.db.next_stack_id = 7;
        s.docker_projects.entry("tcp://a:9001".into()).or_default().insert("web".into());
        s.save(&path).unwrap();
        assert_eq!(PortainerState::load(&path).unwrap(), s);
    }

    #[test]
    fn corrupt_file_is_an_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.json");
        std::fs::write(&path, "{not json").unwrap();
        let err = PortainerState::load(&path).unwrap_err().to_string();
        assert!(err.contains("x.json"), "{err}");
    }
}
