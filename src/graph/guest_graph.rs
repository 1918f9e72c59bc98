//! The validated, acyclic guest graph and its queries: closure, order, waves, neighbours.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use petgraph::Direction;

use super::cycles::Cycles;
use super::edge::normalized_edges;
use super::render::{GraphFormat, RenderView};
use super::{EdgeReason, GraphError, GuestNode};

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

        let adjacency = Cycles::from_sorted(&nodes, &index);
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
        let adjacency = Cycles::from_sorted(&merged, &index);
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
    /// first. Node indices follow id order, so comparing indices compares ids. Not petgraph's
    /// `toposort`: that returns a depth-first finish order, and plans, dry-runs and the pinned
    /// tests promise "among guests ready together, the smallest id first".
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
