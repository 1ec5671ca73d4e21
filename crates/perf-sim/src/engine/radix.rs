//! A prefix cache over KV blocks: a radix tree of chained block hashes with LRU eviction of
//! unreferenced leaves (SGLang's `RadixCache`, TensorRT-LLM's KV block reuse), on top of a
//! paged pool.
//!
//! Each node is one full KV block whose key chains its parent's key with the block's content
//! ([`crate::engine::Requests::block_content`]), so a path from the root is a cached prefix
//! and a hash-map lookup per block walks it. A node is *referenced* while running requests
//! use it (lock counts); unreferenced nodes stay cached and count as free: allocating evicts
//! the least recently used unreferenced leaf first (a parent becomes a leaf when its last
//! child goes), until enough blocks are free.
//!
//! Approximations: one node per block (SGLang's tree is token-granular with `page_size` 1 by
//! default; TensorRT-LLM also reuses partially matched blocks in recent versions), 64-bit
//! hashes (collisions ignored), and block content known from the workload's prompt identity
//! rather than token ids.
//!
//! # Examples
//! ```
//! use perf_sim::engine::RadixCache;
//! let mut c = RadixCache::new(8, 16);
//! let content = |i: u32| 100 + u64::from(i);       // the same 3-block prompt twice
//! assert!(c.allocate(3));                           // request A computes 3 blocks …
//! assert_eq!(c.publish(&content, 0, 3), 0);         // … and caches them (no duplicate)
//! c.unlock(&content, 3);                            // A finishes: cached, unreferenced
//! assert_eq!((c.referenced(), c.available()), (0, 8));
//! assert_eq!(c.match_len(&content, 10), 3);         // B finds them
//! c.lock(&content, 3);
//! assert_eq!(c.referenced(), 3);
//! c.unlock(&content, 3);
//! assert!(c.allocate(8));                           // a big request evicts them (LRU)
//! assert_eq!(c.match_len(&content, 10), 0);
//! ```

use std::collections::{BTreeSet, HashMap};

use crate::kv::BlockPool;

use super::mix64;

const NONE: u32 = u32::MAX;

#[derive(Clone, Copy, Debug)]
struct Node {
    key: u64,
    parent: u32,
    children: u32,
    refs: u32,
    tick: u64,
}

/// A paged KV pool with a radix prefix cache (see the [module docs](self)).
#[derive(Clone, Debug)]
pub struct RadixCache {
    pool: BlockPool,
    nodes: Vec<Node>,
    free_nodes: Vec<u32>,
    index: HashMap<u64, u32>,
    /// Unreferenced leaves by `(tick, node)`: the eviction order.
    lru: BTreeSet<(u64, u32)>,
    /// Nodes with no reference (all evictable, leaves first).
    unreferenced: u64,
    tick: u64,
    evicted: u64,
}

impl RadixCache {
    /// A pool of `total` blocks of `block_size` tokens, nothing cached.
    #[must_use]
    pub fn new(total: u64, block_size: u32) -> Self {
        Self {
            pool: BlockPool::new(total, block_size),
            nodes: Vec::new(),
            free_nodes: Vec::new(),
            index: HashMap::new(),
            lru: BTreeSet::new(),
            unreferenced: 0,
            tick: 0,
            evicted: 0,
        }
    }

    /// The underlying pool (used = referenced + cached blocks).
    #[must_use]
    pub fn pool(&self) -> &BlockPool {
        &self.pool
    }

    /// Blocks held by requests or referenced cached nodes.
    #[must_use]
    pub fn referenced(&self) -> u64 {
        self.pool.used() - self.unreferenced
    }

    /// Blocks an allocation can get: free plus unreferenced cached ones.
    #[must_use]
    pub fn available(&self) -> u64 {
        self.pool.free() + self.unreferenced
    }

    /// Cached blocks no request references (evictable).
    #[must_use]
    pub fn evictable(&self) -> u64 {
        self.unreferenced
    }

    /// Cached blocks evicted so far.
    #[must_use]
    pub fn evictions(&self) -> u64 {
        self.evicted
    }

    /// Blocks cached (referenced or not).
    #[must_use]
    pub fn cached(&self) -> usize {
        self.index.len()
    }

    #[inline]
    fn chain(parent: u64, content: u64) -> u64 {
        mix64(parent.rotate_left(23) ^ content ^ 0x5851_F42D_4C95_7F2D)
    }

    /// Cached leading blocks of the chain `content(0), content(1), …`, at most `limit`.
    #[must_use]
    pub fn match_len(&self, content: &impl Fn(u32) -> u64, limit: u32) -> u32 {
        let mut h = 0;
        for i in 0..limit {
            h = Self::chain(h, content(i));
            if !self.index.contains_key(&h) {
                return i;
            }
        }
        limit
    }

    /// Nodes of the first `n` blocks of a chain (all cached).
    fn path(&mut self, content: &impl Fn(u32) -> u64, n: u32, f: impl Fn(&mut Self, u32)) {
        let mut h = 0;
        for i in 0..n {
            h = Self::chain(h, content(i));
            let Some(node) = self.index.get(&h).copied() else {
                debug_assert!(false, "block {i} of a locked chain is not cached");
                return;
            };
            f(self, node);
        }
    }

    fn touch(&mut self, node: u32) {
        self.tick += 1;
        self.nodes[node as usize].tick = self.tick;
    }

    fn add_ref(&mut self, node: u32) {
        let n = self.nodes[node as usize];
        if n.refs == 0 {
            self.unreferenced -= 1;
            if n.children == 0 {
                self.lru.remove(&(n.tick, node));
            }
        }
        self.nodes[node as usize].refs += 1;
        self.touch(node);
    }

    fn drop_ref(&mut self, node: u32) {
        self.touch(node);
        let n = &mut self.nodes[node as usize];
        debug_assert!(n.refs > 0);
        n.refs -= 1;
        if n.refs == 0 {
            self.unreferenced += 1;
            if n.children == 0 {
                self.lru.insert((n.tick, node));
            }
        }
    }

    /// References the first `n` blocks of a chain (all cached: `n ≤ match_len`), so they are
    /// not evicted while a request uses them.
    pub fn lock(&mut self, content: &impl Fn(u32) -> u64, n: u32) {
        self.path(content, n, Self::add_ref);
    }

    /// Drops the references [`RadixCache::lock`] or [`RadixCache::publish`] took on the first
    /// `n` blocks of a chain; they stay cached, evictable once unreferenced.
    pub fn unlock(&mut self, content: &impl Fn(u32) -> u64, n: u32) {
        self.path(content, n, Self::drop_ref);
    }

    /// Caches blocks `from..to` of a chain whose first `from` blocks are cached and referenced
    /// by the caller, and which holds blocks `from..to` itself: each becomes a node referenced
    /// by the caller. A block already cached (another request cached the same content) is
    /// referenced instead and the caller's copy freed. Returns the copies freed.
    pub fn publish(&mut self, content: &impl Fn(u32) -> u64, from: u32, to: u32) -> u32 {
        let mut h = 0;
        let mut parent = NONE;
        let mut freed = 0;
        for i in 0..to {
            h = Self::chain(h, content(i));
            if i < from {
                parent = self.index.get(&h).copied().unwrap_or(NONE);
                continue;
            }
            if let Some(&node) = self.index.get(&h) {
                self.add_ref(node);
                self.pool.release(1);
                freed += 1;
                parent = node;
                continue;
            }
            self.tick += 1;
            let node = Node {
                key: h,
                parent,
                children: 0,
                refs: 1,
                tick: self.tick,
            };
            let id = match self.free_nodes.pop() {
                Some(id) => {
                    self.nodes[id as usize] = node;
                    id
                }
                None => {
                    self.nodes.push(node);
                    u32::try_from(self.nodes.len() - 1).unwrap_or(NONE)
                }
            };
            if parent != NONE {
                let p = self.nodes[parent as usize];
                if p.children == 0 && p.refs == 0 {
                    self.lru.remove(&(p.tick, parent));
                }
                self.nodes[parent as usize].children += 1;
            }
            self.index.insert(h, id);
            parent = id;
        }
        freed
    }

    /// Evicts the least recently used unreferenced leaf; false when there is none.
    fn evict_one(&mut self) -> bool {
        let Some((_, node)) = self.lru.pop_first() else {
            return false;
        };
        let n = self.nodes[node as usize];
        self.index.remove(&n.key);
        self.free_nodes.push(node);
        self.unreferenced -= 1;
        self.evicted += 1;
        self.pool.release(1);
        if n.parent != NONE {
            let p = &mut self.nodes[n.parent as usize];
            p.children -= 1;
            if p.children == 0 && p.refs == 0 {
                self.lru.insert((p.tick, n.parent));
            }
        }
        true
    }

    /// Takes `n` blocks, evicting unreferenced cached blocks (LRU) as needed; false (nothing
    /// taken) when even that is not enough.
    pub fn allocate(&mut self, n: u32) -> bool {
        if u64::from(n) > self.available() {
            return false;
        }
        while self.pool.free() < u64::from(n) {
            if !self.evict_one() {
                return false;
            }
        }
        self.pool.try_take(n)
    }

    /// Returns `n` blocks a request held privately.
    pub fn release(&mut self, n: u32) {
        self.pool.release(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_prefix_is_cached_once_and_evicted_leaf_first() {
        let mut c = RadixCache::new(10, 4);
        let a = |i: u32| [1u64, 2, 3][i as usize];
        let b = |i: u32| [1u64, 2, 9][i as usize];
        assert!(c.allocate(3));
        assert_eq!(c.publish(&a, 0, 3), 0);
        // B shares two blocks with A.
        assert_eq!(c.match_len(&b, 3), 2);
        c.lock(&b, 2);
        assert!(c.allocate(1));
        assert_eq!(c.publish(&b, 2, 3), 0);
        assert_eq!((c.cached(), c.referenced()), (4, 4));
        c.unlock(&a, 3);
        // A's own leaf is unreferenced; the shared blocks still have B.
        assert_eq!((c.evictable(), c.referenced()), (1, 3));
        c.unlock(&b, 3);
        assert_eq!((c.evictable(), c.available()), (4, 10));
        // A's leaf was released first: evicted first; then B's leaf, then the shared path.
        assert!(c.allocate(7));
        assert_eq!(c.match_len(&a, 3), 2);
        assert_eq!(c.match_len(&b, 3), 3);
        assert!(c.allocate(1));
        assert_eq!((c.match_len(&a, 3), c.match_len(&b, 3)), (2, 2));
        assert!(c.allocate(2));
        assert_eq!(c.cached(), 0);
        assert_eq!(c.evictions(), 4);
        assert!(!c.allocate(1));
    }

    #[test]
    fn duplicate_publication_frees_the_copy() {
        let mut c = RadixCache::new(6, 4);
        let a = |i: u32| u64::from(i) + 7;
        assert!(c.allocate(2));
        assert_eq!(c.publish(&a, 0, 2), 0);
        assert!(c.allocate(2));
        assert_eq!(c.publish(&a, 0, 2), 2);
        assert_eq!((c.pool().used(), c.referenced()), (2, 2));
        c.unlock(&a, 2);
        c.unlock(&a, 2);
        assert_eq!(c.evictable(), 2);
    }
}
