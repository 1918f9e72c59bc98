//! The guest graph: one node per declared guest (LXC or VM), one edge per reason a guest needs
//! another one first (`dependencies`, `clone_from_ctid`, `clone_from_vmid`).
//!
//! Direction convention, used by every function and rendering here: an edge goes from the guest
//! that *needs* to the guest it needs (its prerequisite). `edges()` returns `(guest, prerequisite,
//! reason)`, JSON edges are `{"from": guest, "to": prerequisite}`, and Mermaid/Dot arrows point
//! from the guest to its prerequisite.
//!
//! When a guest both depends on and clones from the same guest, both reasons are kept as two
//! parallel edges, so a rendering can say "needs 900 (clone source), 900 (dependency)" and no
//! reason is silently lost. Repeating the same (prerequisite, reason) pair is collapsed to one edge.
//!
//! Every output is deterministic: nodes sorted by id, edges by (id, reason), topological ties
//! broken by ascending id, so plans, dry-runs and pinned tests never depend on hash order.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::fmt;

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use petgraph::Direction;

/// Defined in the leaf `types`: the fact readers (a lower layer) key guests by it too.
pub use crate::types::GuestKind;

/// Why a guest needs another guest first.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EdgeReason {
    /// Listed in the guest's `dependencies`.
    Dependency,
    /// The guest is cloned from it (`clone_from_ctid` / `clone_from_vmid`).
    CloneSource,
    /// One of the guest's features needs a guest with another feature (the feature module's
    /// `meta().needs_guest_with`), e.g. `trusted_ca` copies the root of the guest with `step_ca`.
    Feature(FeatureNeedEdge),
}

/// The feature that made an edge, and what it needs from the other guest (both from the
/// feature module's `meta()`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FeatureNeedEdge {
    /// The feature of the guest that needs the other one (`trusted_ca`).
    pub feature: std::sync::Arc<str>,
    /// What the other guest provides, as a noun phrase (`the lab CA`).
    pub why: std::sync::Arc<str>,
}

impl EdgeReason {
    /// A feature's need of another guest, e.g. `EdgeReason::feature("trusted_ca", "the lab CA")`.
    pub fn feature(feature: &str, why: &str) -> EdgeReason {
        EdgeReason::Feature(FeatureNeedEdge { feature: feature.into(), why: why.into() })
    }

    /// Clone sources sort before plain dependencies: the clone is what creates the guest, so it
    /// is the most important thing to show first. Needs of features come last, by feature name.
    fn rank(&self) -> (u8, &str) {
        match self {
            EdgeReason::CloneSource => (0, ""),
            EdgeReason::Dependency => (1, ""),
            EdgeReason::Feature(f) => (2, &f.feature),
        }
    }
}

impl fmt::Display for EdgeReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EdgeReason::Dependency => f.pad("dependency"),
            EdgeReason::CloneSource => f.pad("clone source"),
            EdgeReason::Feature(n) => f.pad(&format!("{} for {}", n.why, n.feature)),
        }
    }
}

/// Serialized as its display text (`"clone source"`, `"the lab CA for trusted_ca"`), the same
/// words `phoenix graph` prints.
impl serde::Serialize for EdgeReason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One guest as the graph sees it. `edges` lists what this guest needs: `(prerequisite id, why)`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GuestNode {
    pub id: u32,
    pub kind: GuestKind,
    pub name: String,
    pub edges: Vec<(u32, EdgeReason)>,
}

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

/// What can be wrong with a set of guests or a target list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
pub enum GraphError {
    /// A guest (transitively) needs itself. `path` starts and ends with the same id.
    #[error("dependency cycle: {}", join_path(path))]
    #[diagnostic(
        code(phoenix::graph::cycle),
        help("each arrow means \"needs\"; remove one of the dependencies or clone sources on this path")
    )]
    Cycle { path: Vec<u32> },

    /// An edge points at an id that no configuration file declares.
    #[error("guest {from} has {reason} {to}, but no guest {to} is declared")]
    #[diagnostic(
        code(phoenix::graph::unknown_guest),
        help("declare guest {to} in phoenix_lxc_configs.json or phoenix_vm_configs.json, or fix the id")
    )]
    UnknownGuest { from: u32, to: u32, reason: EdgeReason },

    /// A target given on the command line or by a plan is not a declared guest.
    #[error("guest {id} is not declared")]
    #[diagnostic(code(phoenix::graph::unknown_target), help("run `phoenix graph` to list the declared guests"))]
    UnknownTarget { id: u32 },

    /// The same id is used by two guests (two CTs, two VMs, or a CT and a VM).
    #[error("guest id {id} is declared more than once")]
    #[diagnostic(
        code(phoenix::graph::duplicate_id),
        help("Proxmox ids are shared by containers and VMs; give each guest its own id")
    )]
    DuplicateId { id: u32 },
}

fn join_path(path: &[u32]) -> String {
    path.iter().map(u32::to_string).collect::<Vec<_>>().join(" → ")
}

/// A validated, acyclic guest graph.
#[derive(Debug, Clone)]
pub struct GuestGraph {
    /// Sorted by id; `NodeIndex::new(i)` in `graph` is `nodes[i]`.
    nodes: Vec<GuestNode>,
    index: HashMap<u32, NodeIndex>,
    /// Edge weight is the reason; direction is guest → prerequisite.
    graph: DiGraph<u32, EdgeReason>,
}

impl GuestGraph {
    /// Builds the graph. Fails on the first problem, checked in this order so the message is
    /// stable: duplicate ids (smallest first), edges to undeclared guests (smallest guest first,
    /// then in declared edge order), then the first cycle a depth-first search finds starting
    /// from the smallest id (the path is rotated to start at its smallest id).
    pub fn build(nodes: Vec<GuestNode>) -> Result<GuestGraph, GraphError> {
        let mut nodes = nodes;
        nodes.sort_by_key(|n| n.id);
        if let Some(pair) = nodes.windows(2).find(|w| w[0].id == w[1].id) {
            return Err(GraphError::DuplicateId { id: pair[0].id });
        }
        let index: HashMap<u32, NodeIndex> = nodes.iter().enumerate().map(|(i, n)| (n.id, NodeIndex::new(i))).collect();
        for node in &nodes {
            if let Some((to, reason)) = node.edges.iter().find(|(to, _)| !index.contains_key(to)) {
                return Err(GraphError::UnknownGuest { from: node.id, to: *to, reason: reason.clone() });
            }
        }
        for node in &mut nodes {
            node.edges = normalized_edges(&node.edges);
        }

        let mut graph = DiGraph::with_capacity(nodes.len(), nodes.iter().map(|n| n.edges.len()).sum());
        for node in &nodes {
            graph.add_node(node.id);
        }
        for (i, node) in nodes.iter().enumerate() {
            for (to, reason) in &node.edges {
                if let Some(&target) = index.get(to) {
                    graph.add_edge(NodeIndex::new(i), target, reason.clone());
                }
            }
        }

        let adjacency = Adjacency::from_sorted(&nodes, &index);
        if let Some(path) = adjacency.first_cycle() {
            return Err(GraphError::Cycle { path });
        }
        Ok(GuestGraph { nodes, index, graph })
    }

    /// Every elementary cycle among `nodes`, for validation reports. Each cycle starts and ends at
    /// its smallest id; the list is sorted and has no duplicates. Edges to undeclared ids are
    /// ignored here (they are reported separately) and duplicate ids are merged.
    ///
    /// The number of elementary cycles can grow exponentially, so at most
    /// `MAX_CYCLES_PER_COMPONENT` are listed per strongly connected component; every component
    /// that contains a cycle is represented by at least one.
    pub fn find_cycles(nodes: &[GuestNode]) -> Vec<Vec<u32>> {
        let mut merged: Vec<GuestNode> = Vec::with_capacity(nodes.len());
        let mut by_id: HashMap<u32, usize> = HashMap::new();
        let mut sorted: Vec<&GuestNode> = nodes.iter().collect();
        sorted.sort_by_key(|n| n.id);
        for node in sorted {
            match by_id.get(&node.id) {
                Some(&i) => merged[i].edges.extend(node.edges.iter().cloned()),
                None => {
                    by_id.insert(node.id, merged.len());
                    merged.push(node.clone());
                }
            }
        }
        let index: HashMap<u32, NodeIndex> = by_id.iter().map(|(&id, &i)| (id, NodeIndex::new(i))).collect();
        let adjacency = Adjacency::from_sorted(&merged, &index);
        let mut cycles = adjacency.elementary_cycles();
        cycles.sort();
        cycles.dedup();
        cycles
    }

    /// The guest with this id.
    pub fn node(&self, id: u32) -> Option<&GuestNode> {
        self.index.get(&id).map(|ix| &self.nodes[ix.index()])
    }

    /// Every declared id, ascending.
    pub fn ids(&self) -> Vec<u32> {
        self.nodes.iter().map(|n| n.id).collect()
    }

    /// The targets plus everything they transitively need, in dependency order (see `order`).
    /// An empty target list means every guest.
    pub fn closure(&self, targets: &[u32]) -> Result<Vec<u32>, GraphError> {
        let members = self.closure_members(targets)?;
        Ok(self.topological(&members))
    }

    /// The closure of `targets` in the order work must happen: every guest after all of its
    /// prerequisites; among guests that are ready at the same time, the smallest id first.
    pub fn order(&self, targets: &[u32]) -> Result<Vec<u32>, GraphError> {
        self.closure(targets)
    }

    /// The closure of `targets` split into waves: wave 0 needs nothing, wave k holds the guests
    /// whose prerequisites are all in earlier waves (and at least one in wave k-1). Guests in one
    /// wave are independent of each other and may be worked on together. Each wave is sorted.
    pub fn waves(&self, targets: &[u32]) -> Result<Vec<Vec<u32>>, GraphError> {
        let members = self.closure_members(targets)?;
        Ok(self.waves_of(&members))
    }

    /// What this guest needs directly, sorted by id (clone source before dependency on a tie).
    /// Empty for an unknown id.
    pub fn prerequisites(&self, id: u32) -> Vec<(u32, EdgeReason)> {
        self.neighbours(id, Direction::Outgoing)
    }

    /// The guests that directly need this one, sorted the same way. Empty for an unknown id.
    pub fn dependents(&self, id: u32) -> Vec<(u32, EdgeReason)> {
        self.neighbours(id, Direction::Incoming)
    }

    /// Every edge as `(guest, prerequisite, reason)`, sorted.
    pub fn edges(&self) -> Vec<(u32, u32, EdgeReason)> {
        let mut edges: Vec<(u32, u32, EdgeReason)> = self
            .graph
            .edge_references()
            .map(|e| (self.graph[e.source()], self.graph[e.target()], e.weight().clone()))
            .collect();
        edges.sort_by(|a, b| (a.0, a.1, a.2.rank()).cmp(&(b.0, b.1, b.2.rank())));
        edges
    }

    /// Prints the closure of `targets` (every guest for an empty list). The signature has no
    /// error, so ids that are not declared are skipped; callers that must reject them check the
    /// targets with `closure` first. If every target is undeclared, nothing is rendered.
    pub fn render(&self, targets: &[u32], format: GraphFormat) -> String {
        let known: Vec<u32> = targets.iter().copied().filter(|id| self.index.contains_key(id)).collect();
        let members = if !targets.is_empty() && known.is_empty() {
            HashSet::new()
        } else {
            // Cannot fail: every id in `known` is declared.
            self.closure_members(&known).unwrap_or_default()
        };
        let view = RenderView { order: self.topological(&members), waves: self.waves_of(&members), graph: self };
        match format {
            GraphFormat::Text => view.text(),
            GraphFormat::Mermaid => view.mermaid(),
            GraphFormat::Dot => view.dot(),
            GraphFormat::Json => view.json(),
        }
    }

    fn neighbours(&self, id: u32, direction: Direction) -> Vec<(u32, EdgeReason)> {
        let Some(&ix) = self.index.get(&id) else {
            return Vec::new();
        };
        let mut out: Vec<(u32, EdgeReason)> = self
            .graph
            .edges_directed(ix, direction)
            .map(|e| {
                let other = match direction {
                    Direction::Outgoing => e.target(),
                    Direction::Incoming => e.source(),
                };
                (self.graph[other], e.weight().clone())
            })
            .collect();
        out.sort_by(|a, b| (a.0, a.1.rank()).cmp(&(b.0, b.1.rank())));
        out
    }

    fn closure_members(&self, targets: &[u32]) -> Result<HashSet<NodeIndex>, GraphError> {
        if targets.is_empty() {
            return Ok(self.graph.node_indices().collect());
        }
        let mut members = HashSet::new();
        let mut queue = VecDeque::new();
        for id in targets {
            let ix = *self.index.get(id).ok_or(GraphError::UnknownTarget { id: *id })?;
            if members.insert(ix) {
                queue.push_back(ix);
            }
        }
        while let Some(ix) = queue.pop_front() {
            for next in self.graph.neighbors_directed(ix, Direction::Outgoing) {
                if members.insert(next) {
                    queue.push_back(next);
                }
            }
        }
        Ok(members)
    }

    /// Kahn's algorithm over a prerequisite-closed member set, ready guests taken smallest id
    /// first. Node indices follow id order, so comparing indices compares ids.
    fn topological(&self, members: &HashSet<NodeIndex>) -> Vec<u32> {
        let mut waiting: HashMap<NodeIndex, usize> = HashMap::with_capacity(members.len());
        let mut ready = BinaryHeap::new();
        for &ix in members {
            let count = self.graph.edges_directed(ix, Direction::Outgoing).count();
            if count == 0 {
                ready.push(Reverse(ix));
            } else {
                waiting.insert(ix, count);
            }
        }
        let mut order = Vec::with_capacity(members.len());
        while let Some(Reverse(ix)) = ready.pop() {
            order.push(self.graph[ix]);
            for dependent in self.graph.neighbors_directed(ix, Direction::Incoming) {
                if let Some(count) = waiting.get_mut(&dependent) {
                    *count -= 1;
                    if *count == 0 {
                        waiting.remove(&dependent);
                        ready.push(Reverse(dependent));
                    }
                }
            }
        }
        order
    }

    fn waves_of(&self, members: &HashSet<NodeIndex>) -> Vec<Vec<u32>> {
        let mut level: HashMap<u32, usize> = HashMap::with_capacity(members.len());
        let mut waves: Vec<Vec<u32>> = Vec::new();
        for id in self.topological(members) {
            let wave =
                self.prerequisites(id).iter().filter_map(|(p, _)| level.get(p).map(|l| l + 1)).max().unwrap_or(0);
            level.insert(id, wave);
            if waves.len() <= wave {
                waves.resize_with(wave + 1, Vec::new);
            }
            waves[wave].push(id);
        }
        for wave in &mut waves {
            wave.sort_unstable();
        }
        waves
    }
}

/// Drops repeated (prerequisite, reason) pairs and sorts the rest for stable output.
fn normalized_edges(edges: &[(u32, EdgeReason)]) -> Vec<(u32, EdgeReason)> {
    let mut out: Vec<(u32, EdgeReason)> = edges.to_vec();
    out.sort_by(|a, b| (a.0, a.1.rank()).cmp(&(b.0, b.1.rank())));
    out.dedup();
    out
}

/// Plain adjacency lists over positions 0..n (positions follow ascending id), reasons dropped:
/// cycle detection only cares whether an edge exists.
struct Adjacency {
    ids: Vec<u32>,
    next: Vec<Vec<usize>>,
}

/// Listing every elementary cycle can explode; a validation report needs a handful per knot.
const MAX_CYCLES_PER_COMPONENT: usize = 64;

impl Adjacency {
    fn from_sorted(nodes: &[GuestNode], index: &HashMap<u32, NodeIndex>) -> Adjacency {
        let ids = nodes.iter().map(|n| n.id).collect();
        let next = nodes
            .iter()
            .map(|n| {
                let mut out: Vec<usize> =
                    n.edges.iter().filter_map(|(to, _)| index.get(to).map(|ix| ix.index())).collect();
                out.sort_unstable();
                out.dedup();
                out
            })
            .collect();
        Adjacency { ids, next }
    }

    /// Iterative depth-first search (deep chains must not overflow the stack), roots and
    /// neighbours in ascending id order; the first back edge closes the reported cycle.
    fn first_cycle(&self) -> Option<Vec<u32>> {
        const WHITE: u8 = 0;
        const GREY: u8 = 1;
        const BLACK: u8 = 2;
        let mut colour = vec![WHITE; self.next.len()];
        for root in 0..self.next.len() {
            if colour[root] != WHITE {
                continue;
            }
            // (node, position of the next neighbour to look at)
            let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
            colour[root] = GREY;
            while let Some(top) = stack.last_mut() {
                let (node, pos) = *top;
                if let Some(&next) = self.next[node].get(pos) {
                    top.1 += 1;
                    match colour[next] {
                        WHITE => {
                            colour[next] = GREY;
                            stack.push((next, 0));
                        }
                        GREY => {
                            let start = stack.iter().position(|&(n, _)| n == next).unwrap_or(0);
                            let members: Vec<usize> = stack[start..].iter().map(|&(n, _)| n).collect();
                            return Some(self.closed_path(&members));
                        }
                        _ => {}
                    }
                } else {
                    colour[node] = BLACK;
                    stack.pop();
                }
            }
        }
        None
    }

    /// Turns the positions of a cycle (each needs the next, the last needs the first) into ids,
    /// rotated to start at the smallest id, with the first id repeated at the end.
    fn closed_path(&self, members: &[usize]) -> Vec<u32> {
        let smallest = members.iter().enumerate().min_by_key(|&(_, &n)| n).map(|(i, _)| i).unwrap_or(0);
        let mut path: Vec<u32> = members[smallest..].iter().chain(&members[..smallest]).map(|&n| self.ids[n]).collect();
        if let Some(&first) = path.first() {
            path.push(first);
        }
        path
    }

    /// Strongly connected components (Tarjan, iterative) of the subgraph induced by `allowed`.
    /// Returns a component number per position (`usize::MAX` for positions outside `allowed`).
    fn components(&self, allowed: &[bool]) -> Vec<usize> {
        let n = self.next.len();
        let unset = usize::MAX;
        let mut index = vec![unset; n];
        let mut low = vec![0usize; n];
        let mut on_stack = vec![false; n];
        let mut component = vec![unset; n];
        let mut stack: Vec<usize> = Vec::new();
        let mut counter = 0usize;
        let mut components = 0usize;
        for root in 0..n {
            if !allowed[root] || index[root] != unset {
                continue;
            }
            let mut call: Vec<(usize, usize)> = vec![(root, 0)];
            index[root] = counter;
            low[root] = counter;
            counter += 1;
            stack.push(root);
            on_stack[root] = true;
            while let Some(frame) = call.last_mut() {
                let (v, pos) = *frame;
                if let Some(&w) = self.next[v].get(pos) {
                    frame.1 += 1;
                    if !allowed[w] {
                        continue;
                    }
                    if index[w] == unset {
                        index[w] = counter;
                        low[w] = counter;
                        counter += 1;
                        stack.push(w);
                        on_stack[w] = true;
                        call.push((w, 0));
                    } else if on_stack[w] {
                        low[v] = low[v].min(index[w]);
                    }
                } else {
                    call.pop();
                    if let Some(&(parent, _)) = call.last() {
                        low[parent] = low[parent].min(low[v]);
                    }
                    if low[v] == index[v] {
                        while let Some(w) = stack.pop() {
                            on_stack[w] = false;
                            component[w] = components;
                            if w == v {
                                break;
                            }
                        }
                        components += 1;
                    }
                }
            }
        }
        component
    }

    /// Johnson's algorithm: repeatedly take the smallest position s that lies on a cycle of the
    /// subgraph of positions >= s, list the elementary cycles through s inside its component
    /// there, then drop s. Cycles therefore come out already rotated to their smallest id and
    /// never twice; positions on no remaining cycle are skipped without a search.
    fn elementary_cycles(&self) -> Vec<Vec<u32>> {
        let n = self.next.len();
        let global = self.components(&vec![true; n]);
        let mut found_in: HashMap<usize, usize> = HashMap::new();
        let mut cycles = Vec::new();
        let mut s = 0;
        while s < n {
            let allowed: Vec<bool> = (0..n)
                .map(|v| v >= s && found_in.get(&global[v]).copied().unwrap_or(0) < MAX_CYCLES_PER_COMPONENT)
                .collect();
            let local = self.components(&allowed);
            let mut size: HashMap<usize, usize> = HashMap::new();
            for v in (s..n).filter(|&v| allowed[v]) {
                *size.entry(local[v]).or_insert(0) += 1;
            }
            let Some(start) = (s..n)
                .find(|&v| allowed[v] && (self.next[v].contains(&v) || size.get(&local[v]).copied().unwrap_or(0) > 1))
            else {
                break;
            };
            let scope: Vec<bool> = (0..n).map(|v| allowed[v] && local[v] == local[start]).collect();
            let knot = global[start];
            let budget = MAX_CYCLES_PER_COMPONENT - found_in.get(&knot).copied().unwrap_or(0);
            let before = cycles.len();
            self.circuits_from(start, &scope, budget, &mut cycles);
            *found_in.entry(knot).or_insert(0) += cycles.len() - before;
            s = start + 1;
        }
        cycles
    }

    /// The blocking search of Johnson's algorithm from `s`, within `scope`, iterative.
    fn circuits_from(&self, s: usize, scope: &[bool], budget: usize, out: &mut Vec<Vec<u32>>) {
        let n = self.next.len();
        let mut blocked = vec![false; n];
        let mut blocked_by: Vec<HashSet<usize>> = vec![HashSet::new(); n];
        let mut closed = vec![false; n];
        let mut path: Vec<usize> = vec![s];
        let mut stack: Vec<(usize, usize)> = vec![(s, 0)];
        blocked[s] = true;
        let mut found = 0usize;
        while let Some(frame) = stack.last_mut() {
            let (v, pos) = *frame;
            if let Some(&w) = self.next[v].get(pos) {
                frame.1 += 1;
                if !scope[w] {
                    continue;
                }
                if w == s {
                    out.push(self.closed_path(&path));
                    found += 1;
                    if found >= budget {
                        return;
                    }
                    for &p in &path {
                        closed[p] = true;
                    }
                } else if !blocked[w] {
                    path.push(w);
                    stack.push((w, 0));
                    closed[w] = false;
                    blocked[w] = true;
                }
                continue;
            }
            if closed[v] {
                unblock(v, &mut blocked, &mut blocked_by);
            } else {
                for &w in &self.next[v] {
                    if scope[w] {
                        blocked_by[w].insert(v);
                    }
                }
            }
            stack.pop();
            path.pop();
        }
    }
}

fn unblock(v: usize, blocked: &mut [bool], blocked_by: &mut [HashSet<usize>]) {
    let mut work = vec![v];
    while let Some(u) = work.pop() {
        if blocked[u] {
            blocked[u] = false;
            work.extend(blocked_by[u].drain());
        }
    }
}

/// The members of one rendering, computed once.
struct RenderView<'a> {
    graph: &'a GuestGraph,
    order: Vec<u32>,
    waves: Vec<Vec<u32>>,
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
    fn text(&self) -> String {
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

    fn mermaid(&self) -> String {
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

    fn dot(&self) -> String {
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

    fn json(&self) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn lxc(id: u32, name: &str, edges: &[(u32, EdgeReason)]) -> GuestNode {
        GuestNode { id, kind: GuestKind::Lxc, name: name.to_string(), edges: edges.to_vec() }
    }

    fn vm(id: u32, name: &str, edges: &[(u32, EdgeReason)]) -> GuestNode {
        GuestNode { kind: GuestKind::Vm, ..lxc(id, name, edges) }
    }

    use EdgeReason::{CloneSource as C, Dependency as D};

    /// 900 base ← 901 gpu ← 950 ollama; 900 ← 102 step-ca; 900 ← 101 gateway (needs 102, 103);
    /// 900 ← 103 traefik (needs 102); 9000 template ← 1001 portainer (needs 102).
    fn lab() -> Vec<GuestNode> {
        vec![
            lxc(101, "gateway", &[(900, C), (102, D), (103, D)]),
            lxc(103, "traefik", &[(900, C), (102, D)]),
            lxc(102, "step-ca", &[(900, C)]),
            lxc(950, "ollama", &[(901, C)]),
            lxc(901, "gpu-base", &[(900, C)]),
            lxc(900, "ubuntu-base", &[]),
            vm(9000, "noble-template", &[]),
            vm(1001, "portainer", &[(9000, C), (102, D)]),
        ]
    }

    fn graph() -> GuestGraph {
        GuestGraph::build(lab()).unwrap()
    }

    #[test]
    fn kind_and_reason_display_and_serialize() {
        assert_eq!(GuestKind::Lxc.to_string(), "lxc");
        assert_eq!(GuestKind::Vm.to_string(), "vm");
        assert_eq!(serde_json::to_string(&GuestKind::Vm).unwrap(), "\"vm\"");
        assert_eq!(EdgeReason::CloneSource.to_string(), "clone source");
        assert_eq!(serde_json::to_string(&EdgeReason::CloneSource).unwrap(), "\"clone source\"");
        assert_eq!(serde_json::to_string(&EdgeReason::Dependency).unwrap(), "\"dependency\"");
    }

    #[test]
    fn ids_and_node() {
        let g = graph();
        assert_eq!(g.ids(), vec![101, 102, 103, 900, 901, 950, 1001, 9000]);
        assert_eq!(g.node(950).map(|n| n.name.as_str()), Some("ollama"));
        assert_eq!(g.node(950).map(|n| n.kind), Some(GuestKind::Lxc));
        assert!(g.node(4242).is_none());
    }

    #[test]
    fn duplicate_id_is_rejected_smallest_first() {
        let mut nodes = lab();
        nodes.push(vm(950, "again", &[]));
        nodes.push(vm(101, "again", &[]));
        assert_eq!(GuestGraph::build(nodes).unwrap_err(), GraphError::DuplicateId { id: 101 });
    }

    #[test]
    fn unknown_guest_names_both_ends_and_reason() {
        let mut nodes = lab();
        nodes.push(lxc(120, "orphan", &[(900, C), (777, D)]));
        let err = GuestGraph::build(nodes).unwrap_err();
        assert_eq!(err, GraphError::UnknownGuest { from: 120, to: 777, reason: D });
        assert_eq!(err.to_string(), "guest 120 has dependency 777, but no guest 777 is declared");
    }

    #[test]
    fn cycle_is_reported_as_full_path_from_smallest_id() {
        let nodes = vec![
            lxc(300, "c", &[(200, D)]),
            lxc(200, "b", &[(100, D)]),
            lxc(100, "a", &[(300, D)]),
            lxc(50, "free", &[]),
        ];
        let err = GuestGraph::build(nodes).unwrap_err();
        assert_eq!(err, GraphError::Cycle { path: vec![100, 300, 200, 100] });
        assert_eq!(err.to_string(), "dependency cycle: 100 → 300 → 200 → 100");
    }

    #[test]
    fn two_node_and_self_cycles() {
        let err = GuestGraph::build(vec![lxc(102, "b", &[(101, D)]), lxc(101, "a", &[(102, C)])]).unwrap_err();
        assert_eq!(err, GraphError::Cycle { path: vec![101, 102, 101] });
        let err = GuestGraph::build(vec![lxc(7, "me", &[(7, D)])]).unwrap_err();
        assert_eq!(err, GraphError::Cycle { path: vec![7, 7] });
    }

    #[test]
    fn first_cycle_is_the_one_reached_from_the_smallest_id() {
        let nodes = vec![
            lxc(10, "x", &[(11, D)]),
            lxc(11, "y", &[(10, D)]),
            lxc(1, "a", &[(2, D)]),
            lxc(2, "b", &[(3, D)]),
            lxc(3, "c", &[(2, D)]),
        ];
        assert_eq!(GuestGraph::build(nodes).unwrap_err(), GraphError::Cycle { path: vec![2, 3, 2] });
    }

    #[test]
    fn find_cycles_lists_every_elementary_cycle() {
        // 1 ⇄ 2, 2 → 3 → 1, and a separate self loop on 9; 5 is acyclic.
        let nodes = vec![
            lxc(1, "a", &[(2, D)]),
            lxc(2, "b", &[(1, D), (3, D)]),
            lxc(3, "c", &[(1, D), (404, D)]),
            lxc(5, "d", &[(1, D)]),
            lxc(9, "e", &[(9, C)]),
        ];
        assert_eq!(GuestGraph::find_cycles(&nodes), vec![vec![1, 2, 1], vec![1, 2, 3, 1], vec![9, 9]]);
        assert!(GuestGraph::find_cycles(&lab()).is_empty());
    }

    #[test]
    fn find_cycles_merges_duplicate_ids() {
        let nodes = vec![lxc(1, "a", &[(2, D)]), lxc(2, "b", &[]), vm(2, "b again", &[(1, D)])];
        assert_eq!(GuestGraph::find_cycles(&nodes), vec![vec![1, 2, 1]]);
    }

    #[test]
    fn find_cycles_is_bounded_on_dense_knots() {
        // A complete digraph on 9 nodes has over 100 000 elementary cycles.
        let nodes: Vec<GuestNode> = (0..9)
            .map(|i| {
                let edges: Vec<(u32, EdgeReason)> = (0..9).filter(|&j| j != i).map(|j| (j, D)).collect();
                lxc(i, "k", &edges)
            })
            .collect();
        let cycles = GuestGraph::find_cycles(&nodes);
        assert_eq!(cycles.len(), MAX_CYCLES_PER_COMPONENT);
        for c in &cycles {
            assert_eq!(c.first(), c.last());
            assert_eq!(c[0], 0, "every cycle starts at its smallest id");
        }
    }

    #[test]
    fn both_reasons_to_the_same_guest_are_kept() {
        let g =
            GuestGraph::build(vec![lxc(900, "base", &[]), lxc(101, "app", &[(900, D), (900, C), (900, D)])]).unwrap();
        assert_eq!(g.prerequisites(101), vec![(900, C), (900, D)]);
        assert_eq!(g.dependents(900), vec![(101, C), (101, D)]);
        assert_eq!(g.edges(), vec![(101, 900, C), (101, 900, D)]);
        assert_eq!(g.waves(&[]).unwrap(), vec![vec![900], vec![101]]);
    }

    #[test]
    fn prerequisites_dependents_edges() {
        let g = graph();
        assert_eq!(g.prerequisites(101), vec![(102, D), (103, D), (900, C)]);
        assert_eq!(g.dependents(102), vec![(101, D), (103, D), (1001, D)]);
        assert!(g.prerequisites(900).is_empty());
        assert!(g.dependents(4242).is_empty());
        let edges = g.edges();
        assert_eq!(edges.len(), 10);
        assert_eq!(edges[0], (101, 102, D));
        assert_eq!(edges[9], (1001, 9000, C));
    }

    #[test]
    fn closure_and_order() {
        let g = graph();
        assert_eq!(g.closure(&[101]).unwrap(), vec![900, 102, 103, 101]);
        assert_eq!(g.order(&[950, 1001]).unwrap(), vec![900, 102, 901, 950, 9000, 1001]);
        assert_eq!(g.order(&[]).unwrap(), vec![900, 102, 103, 101, 901, 950, 9000, 1001]);
        assert_eq!(g.order(&[900, 900]).unwrap(), vec![900]);
        assert_eq!(g.closure(&[101, 31337]).unwrap_err(), GraphError::UnknownTarget { id: 31337 });
    }

    #[test]
    fn waves_group_independent_guests() {
        let g = graph();
        assert_eq!(g.waves(&[]).unwrap(), vec![vec![900, 9000], vec![102, 901], vec![103, 950, 1001], vec![101]]);
        assert_eq!(g.waves(&[950]).unwrap(), vec![vec![900], vec![901], vec![950]]);
        assert!(g.waves(&[5]).is_err());
    }

    #[test]
    fn render_text() {
        let g = graph();
        let expected = "\
wave 1
   900  lxc  ubuntu-base
  9000  vm   noble-template
wave 2
   102  lxc  step-ca         needs 900 (clone source)
   901  lxc  gpu-base        needs 900 (clone source)
wave 3
   103  lxc  traefik         needs 900 (clone source), 102 (dependency)
   950  lxc  ollama          needs 901 (clone source)
  1001  vm   portainer       needs 9000 (clone source), 102 (dependency)
wave 4
   101  lxc  gateway         needs 900 (clone source), 102 (dependency), 103 (dependency)
";
        assert_eq!(g.render(&[], GraphFormat::Text), expected);
        assert_eq!(
            g.render(&[950], GraphFormat::Text),
            "\
wave 1
  900  lxc  ubuntu-base
wave 2
  901  lxc  gpu-base     needs 900 (clone source)
wave 3
  950  lxc  ollama       needs 901 (clone source)
"
        );
        assert_eq!(g.render(&[31337], GraphFormat::Text), "(no guests)\n");
    }

    #[test]
    fn render_mermaid() {
        let g = graph();
        let expected = "\
flowchart TD
  g102[\"102 step-ca (lxc)\"]
  g900[\"900 ubuntu-base (lxc)\"]
  g1001([\"1001 portainer (vm)\"])
  g9000([\"9000 noble-template (vm)\"])
  g102 -->|clone source| g900
  g1001 -->|dependency| g102
  g1001 -->|clone source| g9000
";
        assert_eq!(g.render(&[1001], GraphFormat::Mermaid), expected);
    }

    #[test]
    fn render_dot() {
        let g = GuestGraph::build(vec![
            lxc(900, "base \"v1\"", &[]),
            vm(9000, "tmpl", &[]),
            vm(1001, "portainer", &[(9000, C), (900, D)]),
        ])
        .unwrap();
        let expected = "\
digraph guests {
  g900 [label=\"900 base \\\"v1\\\"\\nlxc\", shape=box];
  g1001 [label=\"1001 portainer\\nvm\", shape=ellipse];
  g9000 [label=\"9000 tmpl\\nvm\", shape=ellipse];
  g1001 -> g900 [label=\"dependency\"];
  g1001 -> g9000 [label=\"clone source\"];
}
";
        assert_eq!(g.render(&[], GraphFormat::Dot), expected);
    }

    #[test]
    fn render_json() {
        let g = graph();
        let out = g.render(&[950], GraphFormat::Json);
        let value: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "nodes": [
                    {"id": 900, "kind": "lxc", "name": "ubuntu-base"},
                    {"id": 901, "kind": "lxc", "name": "gpu-base"},
                    {"id": 950, "kind": "lxc", "name": "ollama"}
                ],
                "edges": [
                    {"from": 901, "to": 900, "reason": "clone source"},
                    {"from": 950, "to": 901, "reason": "clone source"}
                ],
                "order": [900, 901, 950],
                "waves": [[900], [901], [950]]
            })
        );
        // Key order is part of the format.
        assert!(out.starts_with("{\n  \"nodes\": ["));
    }

    #[test]
    fn render_is_deterministic_whatever_the_input_order() {
        let mut reversed = lab();
        reversed.reverse();
        let a = GuestGraph::build(lab()).unwrap();
        let b = GuestGraph::build(reversed).unwrap();
        for format in [GraphFormat::Text, GraphFormat::Mermaid, GraphFormat::Dot, GraphFormat::Json] {
            assert_eq!(a.render(&[], format), b.render(&[], format));
        }
    }

    #[test]
    fn deep_chain_does_not_overflow() {
        let n = 20_000u32;
        let nodes: Vec<GuestNode> = (0..n)
            .map(|i| lxc(i, "c", &[]))
            .enumerate()
            .map(|(i, mut node)| {
                if i > 0 {
                    node.edges.push((i as u32 - 1, D));
                }
                node
            })
            .collect();
        let g = GuestGraph::build(nodes.clone()).unwrap();
        assert_eq!(g.order(&[n - 1]).unwrap().len(), n as usize);
        let mut looped = nodes;
        looped[0].edges.push((n - 1, D));
        match GuestGraph::build(looped.clone()).unwrap_err() {
            GraphError::Cycle { path } => assert_eq!(path.len(), n as usize + 1),
            other => panic!("expected a cycle, got {other:?}"),
        }
        assert_eq!(GuestGraph::find_cycles(&looped).len(), 1);
    }
}
