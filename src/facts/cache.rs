//! Cache cells for facts. One run reads each fact at most once; parallel guests share it.
//! Each cell has its own lock, held while the fact loads, so two threads never read the same fact
//! twice and unrelated facts load in parallel.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in another thread cannot leave a fact half-written (values are replaced whole),
    // so a poisoned lock is safe to keep using.
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// A single cached fact.
pub struct Cell<T> {
    value: Mutex<Option<Arc<T>>>,
}

impl<T> Default for Cell<T> {
    fn default() -> Self {
        Cell { value: Mutex::new(None) }
    }
}

impl<T: Clone> Cell<T> {
    /// The cached value, loading it first if needed. Load errors are not cached.
    pub fn get<E>(&self, load: impl FnOnce() -> Result<T, E>) -> Result<Arc<T>, E> {
        let mut slot = lock(&self.value);
        if let Some(v) = slot.as_ref() {
            return Ok(v.clone());
        }
        let v = Arc::new(load()?);
        *slot = Some(v.clone());
        Ok(v)
    }

    /// Change the cached value in place (loading it first), as a modelled action effect.
    pub fn update<E>(&self, load: impl FnOnce() -> Result<T, E>, change: impl FnOnce(&mut T)) -> Result<(), E> {
        let mut slot = lock(&self.value);
        if slot.is_none() {
            *slot = Some(Arc::new(load()?));
        }
        if let Some(v) = slot.as_mut() {
            change(Arc::make_mut(v));
        }
        Ok(())
    }

    /// Forget the value; the next `get` reads the host again.
    pub fn invalidate(&self) {
        *lock(&self.value) = None;
    }
}

/// A family of facts keyed by an argument (a guest id, a path).
pub struct Keyed<K, T> {
    cells: Mutex<HashMap<K, Arc<Cell<T>>>>,
}

impl<K, T> Default for Keyed<K, T> {
    fn default() -> Self {
        Keyed { cells: Mutex::new(HashMap::new()) }
    }
}

impl<K: Eq + Hash + Clone, T: Clone> Keyed<K, T> {
    pub fn cell(&self, key: &K) -> Arc<Cell<T>> {
        lock(&self.cells).entry(key.clone()).or_default().clone()
    }

    pub fn invalidate(&self, key: &K) {
        lock(&self.cells).remove(key);
    }

    /// Forget every key `stale` picks (a guest's whole family of in-guest facts).
    pub fn invalidate_where(&self, stale: impl Fn(&K) -> bool) {
        lock(&self.cells).retain(|k, _| !stale(k));
    }
}
