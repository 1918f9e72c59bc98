//! Property tests for `phoenix::graph`: random DAGs keep every ordering promise, and any graph
//! with an injected cycle is rejected with a path that really is a cycle of the input.

use std::collections::{HashMap, HashSet};

use phoenix::graph::{EdgeReason, GraphError, GuestGraph, GuestKind, GuestNode};
use proptest::prelude::*;

/// A random DAG: edges only go from a higher position to a lower one, then the positions get
/// shuffled ids so that ids say nothing about the order.
fn dag() -> impl Strategy<Value = Vec<GuestNode>> {
    (1usize..40)
        .prop_flat_map(|n| {
            let edges = proptest::collection::vec((0..n, 0..n, any::<bool>()), 0..n * 3);
            let ids = Just((100u32..100 + n as u32 * 7).step_by(7).collect::<Vec<u32>>()).prop_shuffle();
            (Just(n), edges, ids)
        })
        .prop_map(|(n, edges, ids)| nodes_from(n, &edges, &ids, true))
}

fn nodes_from(n: usize, edges: &[(usize, usize, bool)], ids: &[u32], acyclic: bool) -> Vec<GuestNode> {
    let mut nodes: Vec<GuestNode> = (0..n)
        .map(|i| GuestNode {
            id: ids[i],
            kind: if i % 3 == 0 { GuestKind::Vm } else { GuestKind::Lxc },
            name: format!("guest-{i}"),
            edges: Vec::new(),
        })
        .collect();
    for &(a, b, clone) in edges {
        let (from, to) = if acyclic {
            if a == b {
                continue;
            }
            (a.max(b), a.min(b))
        } else {
            (a, b)
        };
        let reason = if clone { EdgeReason::CloneSource } else { EdgeReason::Dependency };
        let to_id = ids[to];
        nodes[from].edges.push((to_id, reason));
    }
    nodes
}

fn edge_set(nodes: &[GuestNode]) -> HashSet<(u32, u32)> {
    nodes.iter().flat_map(|n| n.edges.iter().map(move |(to, _)| (n.id, *to))).collect()
}

/// Every guest reachable from the targets by following "needs", computed naively.
fn reference_closure(nodes: &[GuestNode], targets: &[u32]) -> HashSet<u32> {
    let by_id: HashMap<u32, &GuestNode> = nodes.iter().map(|n| (n.id, n)).collect();
    let mut seen: HashSet<u32> = HashSet::new();
    let mut todo: Vec<u32> = if targets.is_empty() { by_id.keys().copied().collect() } else { targets.to_vec() };
    while let Some(id) = todo.pop() {
        if seen.insert(id) {
            todo.extend(by_id[&id].edges.iter().map(|(to, _)| *to));
        }
    }
    seen
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn order_is_a_topological_order_of_exactly_the_closure(
        nodes in dag(),
        picks in proptest::collection::vec(any::<prop::sample::Index>(), 0..4),
    ) {
        let graph = GuestGraph::build(nodes.clone()).unwrap();
        let ids = graph.ids();
        let targets: Vec<u32> = picks.iter().map(|p| ids[p.index(ids.len())]).collect();
        let order = graph.order(&targets).unwrap();
        let expected = reference_closure(&nodes, &targets);

        let unique: HashSet<u32> = order.iter().copied().collect();
        prop_assert_eq!(unique.len(), order.len(), "no guest twice");
        prop_assert_eq!(&unique, &expected);
        prop_assert_eq!(graph.closure(&targets).unwrap(), order.clone());

        let position: HashMap<u32, usize> = order.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        for (from, to) in edge_set(&nodes) {
            if let Some(&f) = position.get(&from) {
                // Closed: a member's prerequisite is a member, and it comes first.
                let t = position.get(&to);
                prop_assert!(t.is_some(), "{} needs {} but {} is missing", from, to, to);
                prop_assert!(t.copied().unwrap_or(usize::MAX) < f, "{} before its prerequisite {}", from, to);
            }
        }
    }

    #[test]
    fn waves_respect_every_edge_and_cover_the_closure(
        nodes in dag(),
        picks in proptest::collection::vec(any::<prop::sample::Index>(), 0..4),
    ) {
        let graph = GuestGraph::build(nodes.clone()).unwrap();
        let ids = graph.ids();
        let targets: Vec<u32> = picks.iter().map(|p| ids[p.index(ids.len())]).collect();
        let waves = graph.waves(&targets).unwrap();
        let mut wave_of: HashMap<u32, usize> = HashMap::new();
        for (k, wave) in waves.iter().enumerate() {
            prop_assert!(!wave.is_empty());
            prop_assert!(wave.windows(2).all(|w| w[0] < w[1]), "wave sorted, no duplicates");
            for id in wave {
                prop_assert!(wave_of.insert(*id, k).is_none(), "{} in two waves", id);
            }
        }
        let members: HashSet<u32> = wave_of.keys().copied().collect();
        prop_assert_eq!(members, reference_closure(&nodes, &targets));
        for (from, to) in edge_set(&nodes) {
            if let Some(&f) = wave_of.get(&from) {
                prop_assert!(wave_of.get(&to).is_some_and(|&t| t < f), "{} (wave {}) needs {}", from, f, to);
            }
        }
        // Tight: a guest past wave 0 has a prerequisite in the wave just before it.
        for (id, &k) in &wave_of {
            if k > 0 {
                prop_assert!(graph.prerequisites(*id).iter().any(|(p, _)| wave_of[p] == k - 1));
            }
        }
    }

    #[test]
    fn an_injected_cycle_is_always_found_and_real(
        nodes in dag(),
        walk in proptest::collection::vec(any::<prop::sample::Index>(), 1..6),
        clone in any::<bool>(),
    ) {
        let mut nodes = nodes;
        let n = nodes.len();
        // Close a walk a → b → … → a with new edges (a walk of one index is a self loop).
        let cycle: Vec<usize> = walk.iter().map(|i| i.index(n)).collect();
        let reason = if clone { EdgeReason::CloneSource } else { EdgeReason::Dependency };
        for (k, &from) in cycle.iter().enumerate() {
            let to = cycle[(k + 1) % cycle.len()];
            let to_id = nodes[to].id;
            nodes[from].edges.push((to_id, reason.clone()));
        }
        let edges = edge_set(&nodes);
        match GuestGraph::build(nodes.clone()) {
            Err(GraphError::Cycle { path }) => {
                prop_assert!(path.len() >= 2);
                prop_assert_eq!(path.first(), path.last());
                for pair in path.windows(2) {
                    prop_assert!(edges.contains(&(pair[0], pair[1])), "{} → {} is not an edge", pair[0], pair[1]);
                }
                let inner: HashSet<u32> = path[1..].iter().copied().collect();
                prop_assert_eq!(inner.len(), path.len() - 1, "elementary: no repeated guest");
                let min = path.iter().min().copied();
                prop_assert_eq!(path.first().copied(), min, "starts at its smallest id");
            }
            other => prop_assert!(false, "expected a cycle, got {:?}", other.map(|g| g.ids())),
        }
        let cycles = GuestGraph::find_cycles(&nodes);
        prop_assert!(!cycles.is_empty());
        for c in &cycles {
            prop_assert_eq!(c.first(), c.last());
            for pair in c.windows(2) {
                prop_assert!(edges.contains(&(pair[0], pair[1])));
            }
        }
    }

    #[test]
    fn build_is_independent_of_input_order(nodes in dag()) {
        let mut reversed = nodes.clone();
        reversed.reverse();
        let a = GuestGraph::build(nodes).unwrap();
        let b = GuestGraph::build(reversed).unwrap();
        prop_assert_eq!(a.order(&[]).unwrap(), b.order(&[]).unwrap());
        prop_assert_eq!(a.waves(&[]).unwrap(), b.waves(&[]).unwrap());
        prop_assert_eq!(a.edges(), b.edges());
    }
}

/// The shipped example (`etc/`) loads without a single problem and its guest graph is the one
/// `etc/README.md` describes.
#[test]
fn example_config_loads_cleanly_and_has_the_documented_graph() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("etc");
    let inventory = match phoenix::inventory::load(&dir) {
        Ok(inventory) => inventory,
        Err(errors) => panic!("etc/ does not load:\n{}", phoenix::inventory::render(&errors)),
    };
    let warnings: Vec<String> = inventory.warnings.iter().map(|w| format!("{w:?}")).collect();
    assert!(warnings.is_empty(), "etc/ has warnings: {warnings:#?}");

    let graph = GuestGraph::build(inventory.graph_nodes()).unwrap();
    assert_eq!(
        graph.waves(&[]).unwrap(),
        vec![vec![900, 9000], vec![103, 901], vec![102, 110, 120, 121, 1001], vec![101, 1002],]
    );
    assert_eq!(graph.order(&[101]).unwrap(), vec![900, 103, 102, 101]);
    assert_eq!(graph.order(&[1002]).unwrap(), vec![900, 103, 9000, 1001, 1002]);
}
