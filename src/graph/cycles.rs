//! Cycles among guests: the one a build reports, and every elementary one for validation.

use std::collections::{HashMap, HashSet};

use petgraph::algo::kosaraju_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::NodeFiltered;

use super::GuestNode;

/// The guests by position 0..n (positions follow ascending id), reasons dropped: cycles only
/// care whether an edge exists. `next` keeps each position's prerequisites in ascending order,
/// the order the searches below walk them in, so the reported cycles never depend on insertion
/// order; `graph` holds the same edges for petgraph's algorithms.
pub(super) struct Cycles {
    ids: Vec<u32>,
    next: Vec<Vec<usize>>,
    graph: DiGraph<(), ()>,
}

/// Listing every elementary cycle can explode; a validation report needs a handful per knot.
pub(super) const MAX_CYCLES_PER_COMPONENT: usize = 64;

impl Cycles {
    pub(super) fn from_sorted(nodes: &[GuestNode], index: &HashMap<u32, NodeIndex>) -> Cycles {
        let ids = nodes.iter().map(|n| n.id).collect();
        let next: Vec<Vec<usize>> = nodes
            .iter()
            .map(|n| {
                let mut out: Vec<usize> =
                    n.edges.iter().filter_map(|(to, _)| index.get(to).map(|ix| ix.index())).collect();
                out.sort_unstable();
                out.dedup();
                out
            })
            .collect();
        let mut graph = DiGraph::with_capacity(next.len(), next.iter().map(Vec::len).sum());
        for _ in 0..next.len() {
            graph.add_node(());
        }
        for (from, tos) in next.iter().enumerate() {
            for &to in tos {
                graph.add_edge(NodeIndex::new(from), NodeIndex::new(to), ());
            }
        }
        Cycles { ids, next, graph }
    }

    /// The cycle a build reports, if there is one: petgraph's topological sort says whether
    /// there is any (the usual answer is no, and then no search runs). Which cycle is named must
    /// not depend on insertion order, and petgraph names one node of some cycle, not a path; so
    /// the path is the first back edge of a depth-first search with roots and neighbours in
    /// ascending id order, iterative (deep chains must not overflow the stack).
    pub(super) fn first_cycle(&self) -> Option<Vec<u32>> {
        if petgraph::algo::toposort(&self.graph, None).is_ok() {
            return None;
        }
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

    /// Strongly connected components of the subgraph induced by `allowed` (petgraph's
    /// Kosaraju: iterative, where its Tarjan recurses once per node of a chain). Returns a
    /// component number per position (`usize::MAX` for positions outside `allowed`); the numbers
    /// only tell components apart.
    fn components(&self, allowed: &[bool]) -> Vec<usize> {
        let view = NodeFiltered::from_fn(&self.graph, |ix: NodeIndex| allowed[ix.index()]);
        let mut component = vec![usize::MAX; self.next.len()];
        for (number, members) in kosaraju_scc(&view).into_iter().enumerate() {
            for ix in members {
                component[ix.index()] = number;
            }
        }
        component
    }

    /// Johnson's algorithm: repeatedly take the smallest position s that lies on a cycle of the
    /// subgraph of positions >= s, list the elementary cycles through s inside its component
    /// there, then drop s. Cycles therefore come out already rotated to their smallest id and
    /// never twice; positions on no remaining cycle are skipped without a search.
    pub(super) fn elementary_cycles(&self) -> Vec<Vec<u32>> {
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
