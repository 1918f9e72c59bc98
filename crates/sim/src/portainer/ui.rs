//! Edits "as if in Portainer's UI" (or as if its volume were lost), for tests that check
//! phoenix notices drift: they change the state directly, without the API's checks.

use super::state::{EnvPair, PortainerDb, PortainerState};

impl PortainerState {
    fn stack_by_name_mut(&mut self, name: &str) -> Result<&mut super::state::Stack, String> {
        self.db
            .stacks
            .iter_mut()
            .find(|s| s.name == name)
            .ok_or_else(|| format!("no stack named {name:?} in the simulated Portainer"))
    }

    /// The web editor's "Update the stack" with new compose content.
    pub fn ui_set_stack_file(&mut self, stack: &str, content: &str) -> Result<(), String> {
        self.stack_by_name_mut(stack)?.file_content = content.to_string();
        Ok(())
    }

    /// The environment-variables editor of a stack.
    pub fn ui_set_stack_env(&mut self, stack: &str, env: &[(&str, &str)]) -> Result<(), String> {
        let pairs = env.iter().map(|(n, v)| EnvPair { name: n.to_string(), value: v.to_string() });
        self.stack_by_name_mut(stack)?.env = Some(pairs.collect());
        Ok(())
    }

    /// "Delete this stack" in the UI: gone from Portainer and from the Docker host.
    pub fn ui_delete_stack(&mut self, stack: &str) -> Result<(), String> {
        let s = self.stack_by_name_mut(stack)?.clone();
        self.db.stacks.retain(|x| x.id != s.id);
        if let Some(url) = self.db.endpoint(s.endpoint_id).map(|e| e.url.clone()) {
            if let Some(p) = self.docker_projects.get_mut(&url) {
                p.remove(&s.name);
            }
        }
        Ok(())
    }

    /// Portainer's data volume lost: an empty database with a new InstanceID. The Docker hosts
    /// keep running their compose projects (their names then block re-creation, as in reality).
    pub fn lose_portainer_data(&mut self, new_instance_id: String) {
        self.db = PortainerDb::empty(new_instance_id);
    }
}
