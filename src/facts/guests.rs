//! Guest facts: which guests exist and run (one listing per kind per run), each guest's config
//! file (one read per guest), and what is true inside a guest (checks and files, read through
//! `pct exec` / `qm guest exec`).
//!
//! In a dry-run, guests this run would create are *modelled*: their config comes from the
//! modelled effects, and questions about their inside are answered from the modelled history
//! (what earlier steps did to them, and what their clone source held), because they cannot be
//! asked of the host. What the model cannot know is "unknown until apply".

use super::cache::{Cell, Keyed};
use super::guest_config::{parse_conf_file, ConfFile, ConfSection};
use super::{pct, qm, FactError, Facts};
use crate::types::GuestKind;
use indexmap::IndexMap;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A guest's config file: the text as read (edits keep every line) and its parsed sections.
#[derive(Debug, Clone, PartialEq)]
pub struct GuestConf {
    pub kind: GuestKind,
    pub text: String,
    pub file: ConfFile,
}

impl GuestConf {
    pub fn parse(kind: GuestKind, text: String) -> Result<GuestConf, FactError> {
        let file = parse_conf_file(&text)
            .map_err(|e| FactError::Parse { command: conf_path(kind, 0), message: e.to_string() })?;
        Ok(GuestConf { kind, text, file })
    }

    /// The config in effect after the next restart: the main section with pending changes
    /// (and pending deletions) applied — what `pct config`/`qm config` print.
    pub fn effective(&self) -> ConfSection {
        let mut sec = self.file.main.clone();
        if let Some(p) = &self.file.pending {
            for (k, v) in &p.entries {
                if k == "delete" {
                    for (d, _force) in crate::facts::guest_config::pending_deletes(v) {
                        sec.entries.shift_remove(&d);
                    }
                } else {
                    sec.entries.insert(k.clone(), v.clone());
                }
            }
        }
        sec
    }

    pub fn get(&self, key: &str) -> Option<String> {
        self.effective().entries.get(key).cloned()
    }

    pub fn snapshot_names(&self) -> Vec<String> {
        self.file.snapshots.keys().cloned().collect()
    }

    pub fn is_template(&self) -> bool {
        matches!(self.get("template").as_deref(), Some("1"))
    }

    pub fn pct(&self) -> Result<pct::PctConfig, FactError> {
        pct::pct_config_from_section(&self.effective())
            .map_err(|e| FactError::Parse { command: conf_path(self.kind, 0), message: e.to_string() })
    }

    pub fn qm(&self) -> Result<qm::QmConfig, FactError> {
        qm::qm_config_from_section(&self.effective())
            .map_err(|e| FactError::Parse { command: conf_path(self.kind, 0), message: e.to_string() })
    }

    /// Set keys in the main section (a modelled `pct set`/`qm set`), keeping the text in step.
    pub fn set(&mut self, set: &[(String, String)], delete: &[String]) {
        for (k, v) in set {
            // The description is kept as the `#` lines at the top, as Proxmox writes it.
            if k == "description" {
                self.file.main.entries.shift_remove(k);
                self.file.main.comment = Some(v.clone());
                continue;
            }
            self.file.main.entries.insert(k.clone(), v.clone());
        }
        for k in delete {
            self.file.main.entries.shift_remove(k);
        }
        self.text = render_main(&self.file.main) + rest_of(&self.text).as_str();
    }

    /// The text with `lines` (`lxc.key: value`) added at the end of the main section.
    pub fn with_lxc_lines(&self, lines: &[(String, String)]) -> String {
        let (main, rest) = split_main(&self.text);
        let mut out = main.trim_end_matches('\n').to_string();
        out.push('\n');
        for (k, v) in lines {
            out.push_str(&format!("{k}: {v}\n"));
        }
        out + rest
    }
}

/// A template reference as a host path: `local:vztmpl/x.tar.zst` → the `local` storage's
/// template cache; a path stays as it is.
pub fn template_path(t: &str) -> String {
    match t.split_once(":vztmpl/") {
        Some(("local", file)) => format!("/var/lib/vz/template/cache/{file}"),
        _ => t.to_string(),
    }
}

/// Where a guest's config lives.
pub fn conf_path(kind: GuestKind, id: u32) -> String {
    match kind {
        GuestKind::Lxc => format!("/etc/pve/lxc/{id}.conf"),
        GuestKind::Vm => format!("/etc/pve/qemu-server/{id}.conf"),
    }
}

/// The main section's text and the rest (from the first `[section]` line on, with the blank
/// line before it).
fn split_main(text: &str) -> (&str, &str) {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.starts_with('[') {
            // Keep the blank separator line with the rest.
            let main = &text[..offset];
            let trimmed = main.trim_end_matches('\n');
            // The rest starts at the blank separator line, after the main section's last newline.
            let rest_start = (trimmed.len() + 1).min(text.len());
            return (trimmed, &text[rest_start..]);
        }
        offset += line.len();
    }
    (text, "")
}

fn rest_of(text: &str) -> String {
    let (_, rest) = split_main(text);
    if rest.is_empty() {
        String::new()
    } else {
        rest.to_string()
    }
}

/// A main section as the file writer prints it: description lines, sorted keys, lxc lines.
fn render_main(sec: &ConfSection) -> String {
    let mut out = String::new();
    if let Some(c) = &sec.comment {
        for l in c.lines() {
            out.push_str(&format!("#{l}\n"));
        }
    }
    let mut keys: Vec<&String> = sec.entries.keys().collect();
    keys.sort();
    for k in keys {
        out.push_str(&format!("{k}: {}\n", sec.entries[k]));
    }
    for (k, v) in &sec.lxc {
        out.push_str(&format!("{k}: {v}\n"));
    }
    out
}

/// Run state of a guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Power {
    Running,
    Stopped,
    /// Paused, suspended, …: neither, for phoenix's purposes.
    Other,
}

/// One row of a guest listing, both kinds.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Listed {
    pub id: u32,
    pub kind: GuestKind,
    pub name: String,
    pub power: Power,
    pub lock: Option<String>,
}

/// What this run knows about guests beyond the host's answers.
#[derive(Default)]
pub struct GuestFacts {
    pub(super) lxc_list: Cell<IndexMap<u32, Listed>>,
    pub(super) vm_list: Cell<IndexMap<u32, Listed>>,
    pub(super) confs: Keyed<u32, Option<GuestConf>>,
    /// (guest, argv) → whether the check command succeeds.
    pub(super) checks: Keyed<(u32, Vec<String>), Option<bool>>,
    /// (guest, path) → content.
    pub(super) files: Keyed<(u32, String), Option<Option<Vec<u8>>>>,
    /// Dry-run only: guests this run would create → what their inside starts as.
    pub(super) modelled: Mutex<HashMap<u32, Origin>>,
    /// What an OS template or cloud image holds (files, packages, enabled units), by path.
    pub(super) images: Keyed<String, Option<ImageManifest>>,
    /// Packages this run installed in a guest (from `dpkg -s …` checks that became true), so a
    /// later check of some of them knows the answer without asking.
    pub(super) installed: Mutex<HashMap<u32, std::collections::HashSet<String>>>,
    /// Apply: how many times the in-guest facts of a guest were forgotten because an action
    /// worked in it. A read that started before an action and ends after it must not store
    /// its (possibly stale) answer: it stores only when the generation did not move.
    pub(super) inside_generation: Mutex<HashMap<u32, u64>>,
}

/// The packages a `dpkg -s <pkg>…` check asks about.
fn dpkg_check_packages(argv: &[String]) -> Option<&[String]> {
    match argv {
        [dpkg, s, pkgs @ ..] if dpkg == "dpkg" && s == "-s" && !pkgs.is_empty() => Some(pkgs),
        _ => None,
    }
}

/// Where a modelled guest's inside comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A clone of this guest (at the snapshot it was cloned from).
    Clone(u32),
    /// Created from this OS template or cloud image (a host path).
    Image(String),
}

/// The contents of an OS template or cloud image that checks can be answered from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageManifest {
    pub files: std::collections::HashSet<String>,
    pub packages: std::collections::HashSet<String>,
    pub enabled_units: std::collections::HashSet<String>,
}

impl ImageManifest {
    /// From `tar -tf` (one path per line, `./usr/bin/x`, dirs end in `/`) and the image's
    /// `var/lib/dpkg/status`.
    pub fn parse(listing: &str, dpkg_status: &str) -> ImageManifest {
        let mut m = ImageManifest::default();
        for line in listing.lines() {
            let path = format!("/{}", line.trim().trim_start_matches("./").trim_end_matches('/'));
            if let Some(rest) = path.strip_prefix("/etc/systemd/system/") {
                if let Some((dir, unit)) = rest.split_once('/') {
                    if dir.ends_with(".wants") {
                        m.enabled_units.insert(unit.trim_end_matches(".service").to_string());
                    }
                }
            }
            m.files.insert(path);
        }
        let mut name = None;
        for line in dpkg_status.lines() {
            if let Some(n) = line.strip_prefix("Package: ") {
                name = Some(n.trim().to_string());
            } else if line.starts_with("Status: ") && line.ends_with("install ok installed") {
                if let Some(n) = name.take() {
                    m.packages.insert(n);
                }
            } else if line.is_empty() {
                name = None;
            }
        }
        m
    }

    /// Answer a check command from the image, when it is one of the checks this can decide.
    pub fn check(&self, argv: &[String]) -> Option<bool> {
        let a: Vec<&str> = argv.iter().map(String::as_str).collect();
        match a.as_slice() {
            ["test", "-e" | "-f" | "-x" | "-s" | "-d", path] => Some(self.files.contains(path.trim_end_matches('/'))),
            ["dpkg-query", "-W", fmt, pkg] if fmt.contains("Status") => Some(self.packages.contains(*pkg)),
            ["dpkg", "-s", pkgs @ ..] if !pkgs.is_empty() => Some(pkgs.iter().all(|p| self.packages.contains(*p))),
            ["systemctl", "is-enabled" | "is-active", unit] => {
                Some(self.enabled_units.contains(unit.trim_end_matches(".service")))
            }
            _ => None,
        }
    }
}

fn power(status: &pct::GuestStatus) -> Power {
    match status {
        pct::GuestStatus::Running => Power::Running,
        pct::GuestStatus::Stopped => Power::Stopped,
        _ => Power::Other,
    }
}

impl Facts {
    fn lxc_listing(&self) -> Result<IndexMap<u32, Listed>, FactError> {
        let out = self.read_command(&["pct", "list"])?;
        let rows = pct::parse_pct_list(&out.stdout_str())
            .map_err(|e| FactError::Parse { command: "pct list".into(), message: e.to_string() })?;
        Ok(rows
            .into_iter()
            .map(|r| {
                (
                    r.vmid,
                    Listed { id: r.vmid, kind: GuestKind::Lxc, name: r.name, power: power(&r.status), lock: r.lock },
                )
            })
            .collect())
    }

    fn vm_listing(&self) -> Result<IndexMap<u32, Listed>, FactError> {
        let out = self.read_command(&["qm", "list"])?;
        let rows = qm::parse_qm_list(&out.stdout_str())
            .map_err(|e| FactError::Parse { command: "qm list".into(), message: e.to_string() })?;
        Ok(rows
            .into_iter()
            .map(|r| {
                (r.vmid, Listed { id: r.vmid, kind: GuestKind::Vm, name: r.name, power: power(&r.status), lock: None })
            })
            .collect())
    }

    fn listing(&self, kind: GuestKind) -> &Cell<IndexMap<u32, Listed>> {
        match kind {
            GuestKind::Lxc => &self.guests.lxc_list,
            GuestKind::Vm => &self.guests.vm_list,
        }
    }

    fn load_listing(&self, kind: GuestKind) -> Result<IndexMap<u32, Listed>, FactError> {
        match kind {
            GuestKind::Lxc => self.lxc_listing(),
            GuestKind::Vm => self.vm_listing(),
        }
    }

    /// Every guest of a kind (one `pct list` / `qm list` per run).
    pub fn guests(&self, kind: GuestKind) -> Result<Arc<IndexMap<u32, Listed>>, FactError> {
        self.listing(kind).get(|| self.load_listing(kind))
    }

    /// A guest's listing row, whichever kind it is.
    pub fn guest(&self, id: u32) -> Result<Option<Listed>, FactError> {
        if let Some(l) = self.guests(GuestKind::Lxc)?.get(&id) {
            return Ok(Some(l.clone()));
        }
        Ok(self.guests(GuestKind::Vm)?.get(&id).cloned())
    }

    /// A guest's config file, or `None` when the guest does not exist.
    pub fn guest_conf(&self, kind: GuestKind, id: u32) -> Result<Arc<Option<GuestConf>>, FactError> {
        self.guests.confs.cell(&id).get(|| self.load_conf(kind, id))
    }

    fn load_conf(&self, kind: GuestKind, id: u32) -> Result<Option<GuestConf>, FactError> {
        if !self.guests(kind)?.contains_key(&id) {
            return Ok(None);
        }
        match self.host_file(&conf_path(kind, id))? {
            Some(f) => GuestConf::parse(kind, String::from_utf8_lossy(&f.content).into_owned()).map(Some),
            None => Ok(None),
        }
    }

    /// Whether reads see a model (dry-run) rather than the host after each action (apply).
    pub fn is_dry_run(&self) -> bool {
        self.dry_run
    }

    fn inside_generation(&self, id: u32) -> u64 {
        lock(&self.guests.inside_generation).get(&id).copied().unwrap_or(0)
    }

    /// Apply: an action worked inside (or on) guest `id`, so what was read inside it may have
    /// changed: every cached check and file of that guest is forgotten, for every reader (the
    /// guest's own plan and any other guest's thread that reads it, like a copy of the CA root).
    /// The action's own modelled effect is applied after this.
    pub fn forget_inside(&self, id: u32) {
        *lock(&self.guests.inside_generation).entry(id).or_insert(0) += 1;
        self.guests.checks.invalidate_where(|(g, _)| *g == id);
        self.guests.files.invalidate_where(|(g, _)| *g == id);
    }

    /// Whether this dry-run models the guest (it would be created by this run).
    pub fn is_modelled(&self, id: u32) -> bool {
        lock(&self.guests.modelled).contains_key(&id)
    }

    /// Whether a check command succeeds inside a guest. `None`: unknown until apply (a guest
    /// this dry-run would create, when neither its clone source nor its image can say).
    pub fn guest_check(&self, kind: GuestKind, id: u32, argv: &[String]) -> Result<Option<bool>, FactError> {
        let key = (id, argv.to_vec());
        if let Some(v) = *self.guests.checks.cell(&key).get(|| Ok::<_, FactError>(None))? {
            return Ok(Some(v));
        }
        // Packages an earlier step of this run installed (as part of a larger set) are there.
        if let Some(pkgs) = dpkg_check_packages(argv) {
            if lock(&self.guests.installed).get(&id).is_some_and(|have| pkgs.iter().all(|p| have.contains(p))) {
                return Ok(Some(true));
            }
        }
        let generation = self.inside_generation(id);
        let origin = lock(&self.guests.modelled).get(&id).cloned();
        let answer = match &origin {
            Some(Origin::Clone(source)) => self.source_check(kind, *source, argv)?,
            Some(Origin::Image(path)) => self.image(path)?.and_then(|m| m.check(argv)),
            None => Some(self.cached_run_in_guest(kind, id, argv)?.0 == 0),
        };
        if answer.is_some() && origin.is_none() && self.inside_generation(id) == generation {
            let cell = self.guests.checks.cell(&key);
            cell.update(|| Ok::<_, FactError>(None), |v| *v = answer)?;
        }
        Ok(answer)
    }

    /// A check asked of a clone source: modelled sources answer from the model; a real one only
    /// while it runs (a stopped template cannot be asked: unknown until apply).
    fn source_check(&self, kind: GuestKind, source: u32, argv: &[String]) -> Result<Option<bool>, FactError> {
        let src_kind = self.guest_kind(source)?.unwrap_or(kind);
        if self.is_modelled(source) || self.guest(source)?.is_some_and(|g| g.power == Power::Running) {
            return self.guest_check(src_kind, source, argv);
        }
        Ok(None)
    }

    /// What an OS template or cloud image holds (`tar -tf` plus its dpkg status), or `None`
    /// when it cannot be read (then checks on guests made from it are unknown until apply).
    fn image(&self, path: &str) -> Result<Option<ImageManifest>, FactError> {
        let path = template_path(path);
        let cell = self.guests.images.cell(&path);
        let m = cell.get(|| {
            let listing = self.host_run(&crate::command::Command::new(["tar", "-tf", path.as_str()]))?;
            let status =
                self.host_run(&crate::command::Command::new(["tar", "-xOf", path.as_str(), "./var/lib/dpkg/status"]))?;
            if !listing.success() || !status.success() {
                return Ok::<_, FactError>(None);
            }
            Ok(Some(ImageManifest::parse(&listing.stdout_str(), &status.stdout_str())))
        })?;
        Ok(m.as_ref().clone())
    }

    /// A file inside a guest: `Some(None)` absent, `None` unknown until apply.
    pub fn guest_file(&self, kind: GuestKind, id: u32, path: &str) -> Result<Option<Option<Vec<u8>>>, FactError> {
        let key = (id, path.to_string());
        if let Some(v) = self.guests.files.cell(&key).get(|| Ok::<_, FactError>(None))?.as_ref() {
            return Ok(Some(v.clone()));
        }
        let generation = self.inside_generation(id);
        let modelled = lock(&self.guests.modelled).get(&id).cloned();
        let answer = match &modelled {
            Some(Origin::Clone(source)) => {
                let src_kind = self.guest_kind(*source)?.unwrap_or(kind);
                if self.is_modelled(*source) || self.guest(*source)?.is_some_and(|g| g.power == Power::Running) {
                    self.guest_file(src_kind, *source, path)?
                } else {
                    None
                }
            }
            // An image tells whether a file exists, not what it holds.
            Some(Origin::Image(image)) => match self.image(image)? {
                Some(m) if !m.files.contains(path) => Some(None),
                _ => None,
            },
            None => {
                let test = vec!["test".to_string(), "-f".to_string(), path.to_string()];
                if self.cached_run_in_guest(kind, id, &test)?.0 != 0 {
                    Some(None)
                } else {
                    let cat = vec!["cat".to_string(), path.to_string()];
                    let (code, out) = self.cached_run_in_guest(kind, id, &cat)?;
                    if code != 0 {
                        return Err(FactError::Command {
                            command: format!("cat {path} in guest {id}"),
                            code,
                            stderr: String::new(),
                        });
                    }
                    Some(Some(out))
                }
            }
        };
        if modelled.is_none() && self.inside_generation(id) == generation {
            let cell = self.guests.files.cell(&key);
            cell.update(|| Ok::<_, FactError>(None), |v| *v = answer.clone())?;
        }
        Ok(answer)
    }

    /// Which kind a declared-or-listed guest is, if it exists (or is modelled).
    pub fn guest_kind(&self, id: u32) -> Result<Option<GuestKind>, FactError> {
        Ok(self.guest(id)?.map(|l| l.kind))
    }

    /// A read-only command inside a guest for a cached fact (a check, a file): a rehearsal's
    /// recorded answer when it is still good, else the guest.
    fn cached_run_in_guest(&self, kind: GuestKind, id: u32, argv: &[String]) -> Result<(i32, Vec<u8>), FactError> {
        let cmd = super::in_guest::in_guest_command(kind, id, argv, None);
        let key = super::base::ReadKey::Command(cmd.clone());
        let read = super::batch::Read::Inside { kind, id, argv: argv.to_vec() };
        self.note(&read);
        match self.reads.take(&key) {
            Some(super::base::Answer::Inside(code, out)) => return Ok((code, out)),
            Some(super::base::Answer::Command(out)) => return super::in_guest::guest_result(kind, &cmd, &out),
            _ => {}
        }
        if let Some(super::batch::Answer::Inside(code, out)) = self.batched(&read) {
            self.reads.record(key, &super::base::Answer::Inside(code, out.clone()));
            return Ok((code, out));
        }
        let out = self.conn.run(&cmd)?;
        self.reads.record(key, &super::base::Answer::Command(out.clone()));
        let result = super::in_guest::guest_result(kind, &cmd, &out)?;
        self.answered(read, super::batch::Answer::Inside(result.0, result.1.clone()));
        Ok(result)
    }

    /// Run a read-only command inside a guest: (exit code, stdout). A probe (see
    /// [`Facts::probe`]): waits use it to see a change.
    pub fn run_in_guest(&self, kind: GuestKind, id: u32, argv: &[String]) -> Result<(i32, Vec<u8>), FactError> {
        let cmd = super::in_guest::in_guest_command(kind, id, argv, None);
        let out = self.probe(&cmd)?;
        super::in_guest::guest_result(kind, &cmd, &out)
    }

    /// Apply a guest effect. Dry-run: model it. Apply: forget what it touched (the next read
    /// asks the host), except in-guest checks and files, whose new value the action defines.
    pub(super) fn apply_guest(&self, id: u32, kind: GuestKind, change: &GuestChange) -> Result<(), FactError> {
        match change {
            GuestChange::Check { argv, ok } => {
                let cell = self.guests.checks.cell(&(id, argv.clone()));
                cell.update(|| Ok::<_, FactError>(None), |v| *v = Some(*ok))?;
                if let (true, Some(pkgs)) = (*ok, dpkg_check_packages(argv)) {
                    lock(&self.guests.installed).entry(id).or_default().extend(pkgs.iter().cloned());
                }
                return Ok(());
            }
            GuestChange::File { path, content } => {
                let cell = self.guests.files.cell(&(id, path.clone()));
                cell.update(|| Ok::<_, FactError>(None), |v| *v = Some(content.clone()))?;
                return Ok(());
            }
            _ => {}
        }
        if !self.dry_run {
            self.listing(kind).invalidate();
            self.guests.confs.invalidate(&id);
            return Ok(());
        }
        match change {
            GuestChange::Created { name, conf, origin } => {
                lock(&self.guests.modelled).insert(id, origin.clone());
                self.listing(kind).update(
                    || self.load_listing(kind),
                    |l| {
                        l.insert(id, Listed { id, kind, name: name.clone(), power: Power::Stopped, lock: None });
                    },
                )?;
                let conf = GuestConf::parse(kind, conf.clone())?;
                let cell = self.guests.confs.cell(&id);
                cell.update(|| Ok::<_, FactError>(None), |c| *c = Some(conf))?;
            }
            GuestChange::Set { set, delete } => {
                let cell = self.guests.confs.cell(&id);
                cell.update(
                    || self.load_conf(kind, id),
                    |c| {
                        if let Some(c) = c {
                            c.set(set, delete);
                        }
                    },
                )?;
            }
            GuestChange::ConfText(text) => {
                let conf = GuestConf::parse(kind, text.clone())?;
                let cell = self.guests.confs.cell(&id);
                cell.update(|| Ok::<_, FactError>(None), |c| *c = Some(conf))?;
            }
            GuestChange::Power(p) => {
                self.listing(kind).update(
                    || self.load_listing(kind),
                    |l| {
                        if let Some(g) = l.get_mut(&id) {
                            g.power = *p;
                        }
                    },
                )?;
            }
            GuestChange::Snapshot(name) => {
                let cell = self.guests.confs.cell(&id);
                cell.update(
                    || self.load_conf(kind, id),
                    |c| {
                        if let Some(c) = c {
                            c.file.snapshots.insert(name.clone(), c.file.main.clone());
                        }
                    },
                )?;
            }
            GuestChange::Destroyed => {
                lock(&self.guests.modelled).remove(&id);
                self.listing(kind).update(
                    || self.load_listing(kind),
                    |l| {
                        l.shift_remove(&id);
                    },
                )?;
                let cell = self.guests.confs.cell(&id);
                cell.update(|| Ok::<_, FactError>(None), |c| *c = None)?;
            }
            GuestChange::Check { .. } | GuestChange::File { .. } => {}
        }
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// What an action does to a guest, for the model.
#[derive(Debug, Clone, PartialEq)]
pub enum GuestChange {
    /// Created (from an OS template or cloned) with this config file text.
    Created {
        name: String,
        conf: String,
        origin: Origin,
    },
    /// `pct set` / `qm set`.
    Set {
        set: Vec<(String, String)>,
        delete: Vec<String>,
    },
    /// The config file rewritten (lxc lines added).
    ConfText(String),
    Power(Power),
    Snapshot(String),
    Destroyed,
    /// A check command now succeeds (or not) inside the guest.
    Check {
        argv: Vec<String>,
        ok: bool,
    },
    /// A file inside the guest now has this content (`None`: removed).
    File {
        path: String,
        content: Option<Vec<u8>>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONF: &str = "arch: amd64\ncores: 2\nhostname: a\nlxc.apparmor.profile: unconfined\n\n[pve:pending]\ncores: 4\n\n[ready]\narch: amd64\ncores: 1\nsnaptime: 1\n";

    #[test]
    fn effective_applies_pending() {
        let c = GuestConf::parse(GuestKind::Lxc, CONF.into()).unwrap();
        assert_eq!(c.get("cores").as_deref(), Some("4"));
        assert_eq!(c.snapshot_names(), vec!["ready".to_string()]);
    }

    #[test]
    fn lxc_lines_are_added_to_the_main_section_only() {
        let c = GuestConf::parse(GuestKind::Lxc, CONF.into()).unwrap();
        let t = c.with_lxc_lines(&[("lxc.mount.auto".into(), "sys:rw".into())]);
        assert!(t.starts_with("arch: amd64\ncores: 2\nhostname: a\nlxc.apparmor.profile: unconfined\nlxc.mount.auto: sys:rw\n\n[pve:pending]\n"), "{t}");
        let again = GuestConf::parse(GuestKind::Lxc, t).unwrap();
        assert_eq!(again.file.main.lxc.len(), 2);
        assert_eq!(again.file.snapshots.len(), 1);
    }

    #[test]
    fn image_manifest_answers_the_checks_it_can() {
        let listing = "./\n./usr/\n./usr/bin/curl\n./etc/systemd/system/multi-user.target.wants/ssh.service\n";
        let status =
            "Package: curl\nStatus: install ok installed\n\nPackage: jq\nStatus: deinstall ok config-files\n\n";
        let m = ImageManifest::parse(listing, status);
        let argv = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert_eq!(m.check(&argv("test -x /usr/bin/curl")), Some(true));
        assert_eq!(m.check(&argv("test -x /usr/bin/docker")), Some(false));
        assert_eq!(m.check(&argv("dpkg-query -W -f=${Status} curl")), Some(true));
        assert_eq!(m.check(&argv("dpkg-query -W -f=${Status} jq")), Some(false));
        assert_eq!(m.check(&argv("systemctl is-enabled ssh")), Some(true));
        assert_eq!(m.check(&argv("nvidia-smi")), None);
        assert_eq!(template_path("local:vztmpl/x.tar.zst"), "/var/lib/vz/template/cache/x.tar.zst");
    }

    #[test]
    fn set_keeps_other_sections() {
        let mut c = GuestConf::parse(GuestKind::Lxc, CONF.into()).unwrap();
        c.set(&[("memory".into(), "2048".into())], &["arch".into()]);
        let again = GuestConf::parse(GuestKind::Lxc, c.text.clone()).unwrap();
        assert_eq!(again.file.main.get("memory"), Some("2048"));
        assert_eq!(again.file.main.get("arch"), None);
        assert_eq!(again.file.snapshots.len(), 1);
        assert!(again.file.pending.is_some());
    }

    /// A host whose guest 103 holds one file that can appear later (as `step ca init` makes
    /// the CA root): `pct exec 103 -- test -f P` and `cat P` answer from `content`.
    struct OneFile {
        content: Mutex<Option<Vec<u8>>>,
    }

    impl crate::connector::Connector for OneFile {
        fn describe(&self) -> String {
            "one-file".into()
        }
        fn run(
            &self,
            cmd: &crate::command::Command,
        ) -> Result<crate::command::Output, crate::connector::ConnectorError> {
            let argv = cmd.exposed_argv();
            let content = lock(&self.content).clone();
            let (code, stdout) = match argv.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
                ["pct", "exec", "103", "--", "test", "-f", _] => (i32::from(content.is_none()), Vec::new()),
                ["pct", "exec", "103", "--", "cat", _] => (0, content.unwrap_or_default()),
                _ => (1, Vec::new()),
            };
            Ok(crate::command::Output { code, stdout, stderr: Vec::new() })
        }
        fn read_file(&self, _: &str) -> Result<Option<crate::connector::FileData>, crate::connector::ConnectorError> {
            Ok(None)
        }
        fn write_file(&self, _: &str, _: &crate::connector::FileWrite) -> Result<(), crate::connector::ConnectorError> {
            Ok(())
        }
        fn remove_file(&self, _: &str) -> Result<bool, crate::connector::ConnectorError> {
            Ok(false)
        }
        fn lock(&self, _: &str) -> Result<Option<crate::lock::HostLock>, crate::lock::LockError> {
            Ok(None)
        }
    }

    #[test]
    fn an_action_in_a_guest_makes_every_reader_read_it_again() {
        let host = Arc::new(OneFile { content: Mutex::new(None) });
        let facts = Facts::new(host.clone(), false);
        let path = "/etc/step-ca/certs/root_ca.crt";
        let check = vec!["test".to_string(), "-f".to_string(), path.to_string()];
        // Another guest's thread reads the CA root before the CA made it: absent (and cached).
        assert_eq!(facts.guest_file(GuestKind::Lxc, 103, path).unwrap(), Some(None));
        assert_eq!(facts.guest_check(GuestKind::Lxc, 103, &check).unwrap(), Some(false));
        *lock(&host.content) = Some(b"ROOT".to_vec());
        assert_eq!(facts.guest_file(GuestKind::Lxc, 103, path).unwrap(), Some(None), "cached until an action");
        // The CA guest's own thread runs `step ca init` there: every reader reads again.
        facts.forget_inside(103);
        assert_eq!(facts.guest_file(GuestKind::Lxc, 103, path).unwrap(), Some(Some(b"ROOT".to_vec())));
        assert_eq!(facts.guest_check(GuestKind::Lxc, 103, &check).unwrap(), Some(true));
        // Another guest's facts are left alone.
        facts.forget_inside(104);
        assert_eq!(facts.guest_file(GuestKind::Lxc, 103, path).unwrap(), Some(Some(b"ROOT".to_vec())));
    }
}
