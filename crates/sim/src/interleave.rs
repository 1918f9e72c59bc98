//! Edits another writer makes while a command is on its way: "the administrator saved the
//! file in the GUI after phoenix read it and before phoenix wrote it". Each
//! [`InterleavedEdit`] fires once, just before the first command whose argv (joined with
//! spaces) matches its glob, and writes its file as pmxcfs holds what the GUI saves
//! (root:www-data, 0640); then that command runs and finds the file changed.

use super::faults::glob_match;
use super::state::{InterleavedEdit, SimState};
use crate::file::FileData;

/// Apply (and drop) the first pending edit whose pattern matches `line`.
pub(crate) fn fire(st: &mut SimState, line: &str) {
    let Some(i) = st.interleaved_edits.iter().position(|e| glob_match(&e.pattern, line)) else {
        return;
    };
    let edit: InterleavedEdit = st.interleaved_edits.remove(i);
    st.files.insert(
        edit.path,
        FileData { content: edit.content.into_bytes(), mode: 0o640, owner: "root".into(), group: "www-data".into() },
    );
}

#[cfg(test)]
mod tests {
    use crate::host::SimHost;
    use crate::state::{InterleavedEdit, SimState};

    #[test]
    fn an_edit_lands_once_just_before_the_matching_command() {
        let mut st = SimState::default();
        st.interleaved_edits.push(InterleavedEdit {
            pattern: "pve-firewall compile*".into(),
            path: "/etc/pve/firewall/cluster.fw".into(),
            content: "[OPTIONS]\n\nenable: 1\n".into(),
        });
        let h = SimHost::new(st);
        let argv = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        h.exec(&argv("pve-firewall status"), None);
        assert!(h.read_file("/etc/pve/firewall/cluster.fw").is_none(), "not before its command");
        let status = |h: &SimHost| h.exec(&argv("pve-firewall status"), None).stdout_str();
        h.exec(&argv("pve-firewall compile"), None);
        assert_eq!(status(&h), "Status: enabled/running\n");
        h.with_state(|s| s.files.remove("/etc/pve/firewall/cluster.fw"));
        h.exec(&argv("pve-firewall compile"), None);
        assert_eq!(status(&h), "Status: disabled/stopped\n", "once only");
        assert!(h.with_state(|s| s.interleaved_edits.is_empty()));
    }
}
