//! Point identities are what resume matches on, so they must never change:
//! not between runs, processes, Rust releases or hash seeds.

use sweep::{Point, Space, Value};

fn id_of(space: &Space, index: usize) -> String {
    space.point(index).map(|p| p.id().to_string()).unwrap_or_default()
}

#[test]
fn identities_are_pinned() {
    // Computed once with the canonical encoding documented on `Point::id`;
    // a change here breaks resuming every results file written so far.
    let square = Space::linspace("x", -1.0, 1.0, 20);
    assert_eq!(id_of(&square, 1), "57e9fc7cca380ad1");
    // The integral floats -1.0 and 1.0 are identified as the integers -1
    // and 1 now; the ids older releases wrote for them are still
    // recognised as `legacy_id`.
    assert_eq!(id_of(&square, 0), "dc70ca1413309e7f");
    let legacy = |index| square.point(index).map(|p| p.legacy_id().to_string()).unwrap_or_default();
    assert_eq!(legacy(0), "7966c0e7d2898ee7");
    assert_eq!(legacy(19), "796640e7d288b567");
    assert_eq!(legacy(1), id_of(&square, 1), "non-integral floats keep their ids");
    let mixed = Space::grid([Space::list("method", ["rk4", "euler"]), Space::range("n", 1, 4)]);
    assert_eq!(id_of(&mixed, 4), "9ff35c91ea3c98d9");
}

#[test]
fn identities_depend_on_coordinates_not_position() {
    let forward = Space::range("k", 0, 10);
    let backward = Space::Range { name: "k".into(), start: 9, end: -1, step: -1 };
    assert_eq!(id_of(&forward, 3), id_of(&backward, 6));
    let renamed = Space::range("j", 0, 10);
    assert_ne!(id_of(&forward, 3), id_of(&renamed, 3));
    let built = Point::new(vec![("k".into(), Value::Int(3))]);
    assert_eq!(built.id().to_string(), id_of(&forward, 3));
}

#[test]
fn sizes_and_order_of_combined_spaces() {
    let space = Space::grid([
        Space::zip([Space::range("i", 0, 3), Space::list("s", ["a", "b", "c"])]),
        Space::logspace("h", -2.0, 0.0, 3),
    ]);
    assert_eq!(space.validate(), Ok(9));
    assert_eq!(space.names(), ["i", "s", "h"]);
    let shown: Vec<String> = space.iter().map(|p| p.to_string()).collect();
    assert_eq!(shown[0], "i=0 s=a h=0.01");
    assert_eq!(shown[1], "i=0 s=a h=0.1");
    assert_eq!(shown[3], "i=1 s=b h=0.01");
    assert_eq!(shown[8], "i=2 s=c h=1");
    let ids: std::collections::HashSet<_> = space.iter().map(|p| p.id()).collect();
    assert_eq!(ids.len(), 9, "distinct points must have distinct identities");
}
