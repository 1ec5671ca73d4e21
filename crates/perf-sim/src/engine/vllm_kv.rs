//! `vllm_v1`'s KV memory: a plain paged pool, or — with `enable_prefix_caching` — vLLM's
//! automatic prefix caching over the same pool: full blocks are cached under their chained
//! content hash as soon as they are computed, a new or preempted request reuses its longest
//! cached prefix, and cached blocks no running request holds stay until an allocation evicts
//! the least recently used ([`RadixCache`], one node per block as vLLM's `BlockPool` with its
//! free-block queue).

use super::RadixCache;
use super::block_content_of;
use crate::kv::BlockPool;
use crate::request::Req;

/// The pool, with or without the prefix cache.
#[derive(Debug)]
pub(crate) enum VllmKv {
    /// No prefix caching: blocks are owned by requests and freed when they end.
    Plain(BlockPool),
    /// Automatic prefix caching with LRU eviction.
    Cached(RadixCache),
}

impl VllmKv {
    /// `total` blocks of `block_size` tokens, cached when `caching`.
    pub fn new(total: u64, block_size: u32, caching: bool) -> Self {
        if caching {
            Self::Cached(RadixCache::new(total, block_size))
        } else {
            Self::Plain(BlockPool::new(total, block_size))
        }
    }

    #[inline]
    fn pool(&self) -> &BlockPool {
        match self {
            Self::Plain(p) => p,
            Self::Cached(c) => c.pool(),
        }
    }

    /// Blocks to hold `tokens` tokens.
    #[inline]
    pub fn blocks_for(&self, tokens: u32) -> u32 {
        self.pool().blocks_for(tokens)
    }

    /// Blocks to add to `held` to hold `tokens` tokens.
    #[inline]
    pub fn extra_for(&self, tokens: u32, held: u32) -> u32 {
        self.pool().extra_for(tokens, held)
    }

    /// Tokens per block.
    #[inline]
    pub fn block_size(&self) -> u32 {
        self.pool().block_size()
    }

    /// Blocks in the pool.
    #[inline]
    pub fn total(&self) -> u64 {
        self.pool().total()
    }

    /// Blocks held by requests (cached blocks nobody holds count as free, as vLLM's usage
    /// gauge counts them).
    #[inline]
    pub fn used(&self) -> u64 {
        match self {
            Self::Plain(p) => p.used(),
            Self::Cached(c) => c.referenced(),
        }
    }

    /// Blocks an allocation can get (free, or cached and evictable).
    #[inline]
    pub fn free(&self) -> u64 {
        match self {
            Self::Plain(p) => p.free(),
            Self::Cached(c) => c.available(),
        }
    }

    /// Takes `n` blocks (evicting least recently used cached blocks as needed); false and
    /// nothing taken when there are not enough.
    #[inline]
    pub fn try_take(&mut self, n: u32) -> bool {
        match self {
            Self::Plain(p) => p.try_take(n),
            Self::Cached(c) => c.allocate(n),
        }
    }

    /// Tokens of `r`'s prompt and output found cached, in whole blocks, leaving at least its
    /// last token to compute (vLLM recomputes it for its logits). 0 without caching.
    pub fn cached_tokens(&self, r: &Req) -> u32 {
        let Self::Cached(c) = self else {
            return 0;
        };
        let bs = c.pool().block_size();
        let limit = (r.num_tokens().saturating_sub(1)) / bs;
        c.match_len(&|i| block_content_of(r, i, bs), limit) * bs
    }

    /// Holds the first `blocks` cached blocks of `r` (an admission from the cache).
    pub fn hold_prefix(&mut self, r: &Req, blocks: u32) {
        if let Self::Cached(c) = self
            && blocks > 0
        {
            let bs = c.pool().block_size();
            c.lock(&|i| block_content_of(r, i, bs), blocks);
        }
    }

    /// Lets go of the first `blocks` cached blocks of `r` (an admission undone).
    pub fn drop_prefix(&mut self, r: &Req, blocks: u32) {
        if let Self::Cached(c) = self
            && blocks > 0
        {
            let bs = c.pool().block_size();
            c.unlock(&|i| block_content_of(r, i, bs), blocks);
        }
    }

    /// Caches `r`'s computed full blocks beyond those it already shares (`r.shared` grows).
    pub fn publish(&mut self, r: &mut Req) {
        let Self::Cached(c) = self else {
            return;
        };
        let bs = c.pool().block_size();
        let full = r.computed / bs;
        if full <= r.shared {
            return;
        }
        let view = *r;
        let _duplicates_freed = c.publish(&|i| block_content_of(&view, i, bs), r.shared, full);
        r.shared = full;
    }

    /// Frees everything `r` holds (finished or preempted): its computed full blocks stay
    /// cached, unheld (evictable); the rest goes back to the pool. `r.blocks` and `r.shared`
    /// become 0.
    pub fn release(&mut self, r: &mut Req) {
        match self {
            Self::Plain(p) => p.release(r.blocks - r.shared),
            Self::Cached(_) => {
                self.publish(r);
                if let Self::Cached(c) = self {
                    let bs = c.pool().block_size();
                    let view = *r;
                    c.unlock(&|i| block_content_of(&view, i, bs), r.shared);
                    c.release(r.blocks - r.shared);
                }
            }
        }
        r.blocks = 0;
        r.shared = 0;
    }
}
