//! The text of every script a run compiled, by source name, so diagnostics can quote it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Default, Clone)]
pub struct Sources {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    texts: HashMap<String, Arc<str>>,
    /// import path as written (`stages/zfs`) → source name (`stdlib/stages/zfs.rhai`)
    modules: HashMap<String, String>,
}

impl Sources {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    pub fn add(&self, name: &str, text: Arc<str>) {
        self.lock().texts.insert(name.to_string(), text);
    }

    pub fn add_module(&self, import_path: &str, name: &str) {
        self.lock().modules.insert(import_path.to_string(), name.to_string());
    }

    pub fn get(&self, name: &str) -> Option<Arc<str>> {
        self.lock().texts.get(name).cloned()
    }

    pub fn module_source(&self, import_path: &str) -> Option<String> {
        self.lock().modules.get(import_path).cloned()
    }
}
