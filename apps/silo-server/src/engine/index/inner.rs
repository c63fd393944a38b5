//! The inner levels of the ordered index: immutable nodes replaced
//! copy-on-write along one root-to-leaf path when a leaf splits.
//!
//! Splits are rare (one per half a leaf of inserts), so they are serialised
//! by one mutex in the tree and publish a new root atomically; lookups load
//! the root without any lock and descend immutable nodes. A root may be
//! outdated by the time a reader reaches its leaf: the leaf's fence key and
//! sibling link (see [`super::leaf`]) correct that.

use std::sync::Arc;

use super::leaf::Leaf;

/// Maximum number of separators in an inner node before it splits.
const INNER_CAPACITY: usize = 32;

/// An inner node. `children[i]` holds the keys in `[seps[i-1], seps[i])`.
pub(crate) struct Inner<K, T> {
    seps: Vec<K>,
    children: Vec<Child<K, T>>,
}

/// The separator and right half of a split inner node.
type Split<K, T> = (K, Inner<K, T>);

enum Child<K, T> {
    Inner(Arc<Inner<K, T>>),
    Leaf(Arc<Leaf<K, T>>),
}

impl<K, T> Clone for Child<K, T> {
    fn clone(&self) -> Self {
        match self {
            Child::Inner(node) => Child::Inner(Arc::clone(node)),
            Child::Leaf(leaf) => Child::Leaf(Arc::clone(leaf)),
        }
    }
}

impl<K: Ord + Clone, T> Inner<K, T> {
    /// A root over a single leaf.
    pub(crate) fn over(leaf: Arc<Leaf<K, T>>) -> Inner<K, T> {
        Inner {
            seps: Vec::new(),
            children: vec![Child::Leaf(leaf)],
        }
    }

    fn child_index(&self, key: &K) -> usize {
        self.seps.partition_point(|sep| sep <= key)
    }

    /// The leaf whose range held `key` when this root was published.
    pub(crate) fn leaf_for(&self, key: &K) -> &Arc<Leaf<K, T>> {
        let mut node = self;
        loop {
            match &node.children[node.child_index(key)] {
                Child::Inner(inner) => node = inner,
                Child::Leaf(leaf) => return leaf,
            }
        }
    }

    /// The leftmost leaf.
    pub(crate) fn first_leaf(&self) -> &Arc<Leaf<K, T>> {
        let mut node = self;
        loop {
            match &node.children[0] {
                Child::Inner(inner) => node = inner,
                Child::Leaf(leaf) => return leaf,
            }
        }
    }

    /// A new root equal to this one plus the separator `sep` leading to
    /// `leaf`, whose keys start at `sep`. Separators may be installed in any
    /// order: each lands at its sorted position.
    pub(crate) fn with_separator(&self, sep: K, leaf: Arc<Leaf<K, T>>) -> Inner<K, T> {
        match self.insert(sep, Child::Leaf(leaf)) {
            (node, None) => node,
            (left, Some((up, right))) => Inner {
                seps: vec![up],
                children: vec![Child::Inner(Arc::new(left)), Child::Inner(Arc::new(right))],
            },
        }
    }

    fn insert(&self, sep: K, leaf: Child<K, T>) -> (Inner<K, T>, Option<Split<K, T>>) {
        let index = self.child_index(&sep);
        let mut seps = self.seps.clone();
        let mut children = self.children.clone();
        match &self.children[index] {
            Child::Leaf(_) => {
                seps.insert(index, sep);
                children.insert(index + 1, leaf);
            }
            Child::Inner(child) => {
                let (new_child, split) = child.insert(sep, leaf);
                children[index] = Child::Inner(Arc::new(new_child));
                if let Some((up, right)) = split {
                    seps.insert(index, up);
                    children.insert(index + 1, Child::Inner(Arc::new(right)));
                }
            }
        }
        if seps.len() <= INNER_CAPACITY {
            return (Inner { seps, children }, None);
        }
        let middle = seps.len() / 2;
        let right_seps = seps.split_off(middle + 1);
        let up = seps.pop().expect("an overfull node has a middle separator");
        let right_children = children.split_off(middle + 1);
        (
            Inner { seps, children },
            Some((
                up,
                Inner {
                    seps: right_seps,
                    children: right_children,
                },
            )),
        )
    }
}
