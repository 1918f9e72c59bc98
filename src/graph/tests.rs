//! The graph's unit tests: build errors, cycles, closure, order, waves and every rendering.

use super::cycles::MAX_CYCLES_PER_COMPONENT;
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
    let nodes =
        vec![lxc(300, "c", &[(200, D)]), lxc(200, "b", &[(100, D)]), lxc(100, "a", &[(300, D)]), lxc(50, "free", &[])];
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
    let g = GuestGraph::build(vec![lxc(900, "base", &[]), lxc(101, "app", &[(900, D), (900, C), (900, D)])]).unwrap();
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
