//! Cache hints for the batched environment: each of its environments keeps its state and its
//! stream position in different places, so stepping them one after another misses the cache at
//! every turn unless the next one's memory is requested while the current one steps.

/// Asks the CPU to start loading `bytes` bytes from `start` into cache. A hint: it never faults,
/// never changes results, and does nothing off x86-64.
#[inline]
pub fn prefetch_bytes(start: *const u8, bytes: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        const CACHE_LINE: usize = 64;
        let mut offset = 0;
        while offset < bytes {
            // SAFETY: a prefetch reads nothing and cannot fault, whatever the address
            unsafe { _mm_prefetch(start.wrapping_add(offset).cast::<i8>(), _MM_HINT_T0) };
            offset += CACHE_LINE;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (start, bytes);
    }
}

/// The first two cache lines of a slice (what a replay step reads first).
#[inline]
pub fn prefetch_slice<T>(items: &[T]) {
    prefetch_bytes(items.as_ptr().cast(), std::mem::size_of_val(items).min(128));
}
