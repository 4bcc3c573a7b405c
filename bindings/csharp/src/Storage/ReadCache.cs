// The process's read cache of file:// segment indexes.
using System;
using MLFramework.Visualization.Native;

namespace MLFramework.Visualization.Storage
{
    /// <summary>The read cache's counters (ReadCache.Stats).</summary>
    public sealed class ReadCacheStats
    {
        /// <summary>Lookups answered from the cache.</summary>
        public long Hits { get; internal set; }
        /// <summary>Lookups that loaded or built an index.</summary>
        public long Misses { get; internal set; }
        /// <summary>Entries dropped for space or age.</summary>
        public long Evictions { get; internal set; }
        /// <summary>Entries rebuilt because their segment changed under them.</summary>
        public long Rebuilds { get; internal set; }
        /// <summary>Entries held now.</summary>
        public long Entries { get; internal set; }
        /// <summary>Bytes held now (estimated).</summary>
        public long Bytes { get; internal set; }
        /// <summary>The byte capacity.</summary>
        public long Capacity { get; internal set; }
    }

    /// <summary>The process-wide cache of file:// segment indexes that queries,
    /// aggregates and run listings share (an LRU bounded in bytes, with a time to live).</summary>
    public static class ReadCache
    {
        /// <summary>Its counters now.</summary>
        public static ReadCacheStats Stats
        {
            get
            {
                VizCacheStats s;
                VizErrors.Check(NativeMethods.viz_read_cache_stats(out s));
                return new ReadCacheStats
                {
                    Hits = (long)s.Hits, Misses = (long)s.Misses, Evictions = (long)s.Evictions, Rebuilds = (long)s.Rebuilds,
                    Entries = (long)s.Entries, Bytes = (long)s.Bytes, Capacity = (long)s.Capacity,
                };
            }
        }

        /// <summary>Sets its capacity in bytes (0 turns it off) and how long an unused
        /// entry is kept.</summary>
        public static void Configure(long capacityBytes, TimeSpan timeToLive)
        {
            if (capacityBytes < 0) throw new ArgumentOutOfRangeException("capacityBytes", capacityBytes, "capacity is negative");
            VizErrors.Check(NativeMethods.viz_read_cache_configure((ulong)capacityBytes, (ulong)Math.Max(0, timeToLive.TotalMilliseconds)));
        }
    }
}
