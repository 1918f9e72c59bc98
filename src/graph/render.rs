//! `phoenix graph`: the closure of some guests as text, Mermaid, Dot or JSON.

use super::{EdgeReason, GuestGraph, GuestKind, GuestNode};

/// How `GuestGraph::render` prints the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GraphFormat {
    /// Waves of guests, one line per guest with what it needs.
    Text,
    /// A Mermaid `flowchart TD`.
    Mermaid,
    /// A Graphviz `digraph`.
    Dot,
    /// Machine-readable nodes, edges, order and waves.
    Json,
}

/// The members of one rendering, computed once.
pub(super) struct RenderView<'a> {
    pub(super) graph: &'a GuestGraph,
    pub(super) order: Vec<u32>,
    pub(super) waves: Vec<Vec<u32>>,
}

impl RenderView<'_> {
    fn sorted_members(&self) -> Vec<&GuestNode> {
        let mut ids = self.order.clone();
        ids.sort_unstable();
        ids.iter().filter_map(|id| self.graph.node(*id)).collect()
    }

    fn member_edges(&self) -> Vec<(u32, u32, EdgeReason)> {
        self.sorted_members()
            .into_iter()
            .flat_map(|n| self.graph.prerequisites(n.id).into_iter().map(move |(to, reason)| (n.id, to, reason)))
            .collect()
    }

    /// ```text
    /// wave 1
    ///   900  lxc  ubuntu-base
    /// wave 2
    ///   901  lxc  gpu-base     needs 900 (clone source)
    /// ```
    pub(super) fn text(&self) -> String {
        let members = self.sorted_members();
        let id_width = members.iter().map(|n| n.id.to_string().len()).max().unwrap_or(0);
        let name_width = members.iter().map(|n| n.name.chars().count()).max().unwrap_or(0);
        let mut out = String::new();
        for (k, wave) in self.waves.iter().enumerate() {
            out.push_str(&format!("wave {}\n", k + 1));
            for node in wave.iter().filter_map(|id| self.graph.node(*id)) {
                let mut needs: Vec<(u32, EdgeReason)> = self.graph.prerequisites(node.id);
                needs.sort_by(|a, b| (a.1.rank(), a.0).cmp(&(b.1.rank(), b.0)));
                let line = format!("  {:>id_width$}  {:<3}  {:<name_width$}", node.id, node.kind, node.name);
                if needs.is_empty() {
                    out.push_str(line.trim_end());
                } else {
                    let list =
                        needs.iter().map(|(id, reason)| format!("{id} ({reason})")).collect::<Vec<_>>().join(", ");
                    out.push_str(&format!("{line}  needs {list}"));
                }
                out.push('\n');
            }
        }
        if self.waves.is_empty() {
            out.push_str("(no guests)\n");
        }
        out
    }

    pub(super) fn mermaid(&self) -> String {
        let mut out = String::from("flowchart TD\n");
        for node in self.sorted_members() {
            let shape = match node.kind {
                GuestKind::Lxc => ("[\"", "\"]"),
                GuestKind::Vm => ("([\"", "\"])"),
            };
            out.push_str(&format!(
                "  g{}{}{} {} ({}){}\n",
                node.id,
                shape.0,
                node.id,
                mermaid_escape(&node.name),
                node.kind,
                shape.1
            ));
        }
        for (from, to, reason) in self.member_edges() {
            out.push_str(&format!("  g{from} -->|{reason}| g{to}\n"));
        }
        out
    }

    pub(super) fn dot(&self) -> String {
        let mut out = String::from("digraph guests {\n");
        for node in self.sorted_members() {
            let shape = match node.kind {
                GuestKind::Lxc => "box",
                GuestKind::Vm => "ellipse",
            };
            out.push_str(&format!(
                "  g{} [label=\"{} {}\\n{}\", shape={}];\n",
                node.id,
                node.id,
                dot_escape(&node.name),
                node.kind,
                shape
            ));
        }
        for (from, to, reason) in self.member_edges() {
            out.push_str(&format!("  g{from} -> g{to} [label=\"{reason}\"];\n"));
        }
        out.push_str("}\n");
        out
    }

    pub(super) fn json(&self) -> String {
        let nodes: Vec<serde_json::Value> = self
            .sorted_members()
            .iter()
            .map(|n| serde_json::json!({"id": n.id, "kind": n.kind, "name": n.name}))
            .collect();
        let edges: Vec<serde_json::Value> = self
            .member_edges()
            .iter()
            .map(|(from, to, reason)| serde_json::json!({"from": from, "to": to, "reason": reason}))
            .collect();
        let doc = serde_json::json!({
            "nodes": nodes,
            "edges": edges,
            "order": self.order,
            "waves": self.waves,
        });
        // Serialising plain numbers and strings cannot fail; fall back to compact just in case.
        serde_json::to_string_pretty(&doc).unwrap_or_else(|_| doc.to_string())
    }
}

/// Mermaid labels are inside double quotes; a quote must be written as an entity.
fn mermaid_escape(s: &str) -> String {
    s.replace('"', "#quot;")
}

/// Dot string literals: escape backslashes and quotes, keep newlines out.
fn dot_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', " ")
}
