using System;
using System.Globalization;
using System.Text;
using MLFramework.Visualization.Native;

namespace MLFramework.Visualization.Collection
{
    /// <summary>When the collector delivers buffered events (seed 004).</summary>
    public enum FlushStrategy
    {
        /// <summary>Every FlushInterval.</summary>
        TimeBased = 0,
        /// <summary>Whenever BatchSize events are buffered.</summary>
        SizeBased = 1,
        /// <summary>Only on Flush (or a critical event, or Stop).</summary>
        Manual = 2,
        /// <summary>Size-based and time-based together.</summary>
        Hybrid = 3,
    }

    /// <summary>Collector settings (seed 004). BufferCapacity, FlushInterval, BatchSize,
    /// Strategy, EnableBackpressure and MaxQueueLength keep the seed's defaults, which its
    /// API fixes; every other default is the library's own, read from
    /// viz_collector_config_default, so the binding never restates one.</summary>
    public class EventCollectorConfig
    {
        /// <summary>Events the background worker stages before it must deliver.</summary>
        public int BufferCapacity { get; set; } = 1000;
        /// <summary>Delivery and flush interval for TimeBased and Hybrid.</summary>
        public TimeSpan FlushInterval { get; set; } = TimeSpan.FromSeconds(1);
        /// <summary>Events per delivery, and the SizeBased threshold.</summary>
        public int BatchSize { get; set; } = 100;
        /// <summary>When to deliver.</summary>
        public FlushStrategy Strategy { get; set; } = FlushStrategy.Hybrid;
        /// <summary>When the queue is full: true blocks the producer, false drops the oldest event.</summary>
        public bool EnableBackpressure { get; set; } = true;
        /// <summary>The most events the collector holds at once, from Collect until the
        /// backends are done with them (the library's max_held_events; at least BatchSize),
        /// whatever a backend's speed. When it is reached, EnableBackpressure decides: wait
        /// for room, or drop the oldest event still queued (or, when everything held is
        /// already on its way to a backend, the new one), counted in the stats.</summary>
        public int MaxQueueLength { get; set; } = 10000;
        /// <summary>How long Flush, Stop and Dispose wait for the backends (default: the library's shutdown_timeout).</summary>
        public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromMilliseconds(LibraryDefaults.ShutdownTimeoutMs);
        /// <summary>With backpressure on, the longest Collect waits for room before dropping
        /// the event (null: the library's default, LibraryDefaults.BlockTimeoutMs).</summary>
        public TimeSpan? BlockTimeout { get; set; }
        /// <summary>The byte budget: most bytes of events held at once (null: the library's
        /// default, LibraryDefaults.MaxHeldBytes). Past it, large events meet the backpressure policy.</summary>
        public long? MaxHeldBytes { get; set; }

        /// <summary>Throws ArgumentException naming the first invalid property.</summary>
        public void Validate()
        {
            if (BufferCapacity <= 0) throw new ArgumentException("EventCollectorConfig.BufferCapacity is " + BufferCapacity + "; it must be positive");
            if (BatchSize <= 0) throw new ArgumentException("EventCollectorConfig.BatchSize is " + BatchSize + "; it must be positive");
            if (MaxQueueLength <= 0) throw new ArgumentException("EventCollectorConfig.MaxQueueLength is " + MaxQueueLength + "; it must be positive");
            if (FlushInterval <= TimeSpan.Zero) throw new ArgumentException("EventCollectorConfig.FlushInterval is " + FlushInterval + "; it must be positive");
            if (ShutdownTimeout <= TimeSpan.Zero) throw new ArgumentException("EventCollectorConfig.ShutdownTimeout is " + ShutdownTimeout + "; it must be positive");
            if (BlockTimeout.HasValue && BlockTimeout.Value <= TimeSpan.Zero) throw new ArgumentException("EventCollectorConfig.BlockTimeout is " + BlockTimeout + "; it must be positive");
            if (MaxHeldBytes.HasValue && MaxHeldBytes.Value <= 0) throw new ArgumentException("EventCollectorConfig.MaxHeldBytes is " + MaxHeldBytes + "; it must be positive");
        }

        internal uint TimeoutMs
        {
            get { return (uint)Math.Min(uint.MaxValue, Math.Max(1.0, ShutdownTimeout.TotalMilliseconds)); }
        }

        /// <summary>Batches each backend's delivery queue holds: MaxQueueLength events' worth.</summary>
        internal int DestinationQueueBatches
        {
            // At most src/limits.rs's MAX_DESTINATION_QUEUE_BATCHES (1 << 16), which only a
            // batch of under 64 events with the largest queue reaches.
            get { return Math.Min(1 << 16, Math.Max(1, (int)Math.Ceiling(MaxQueueLength / (double)BatchSize))); }
        }

        /// <summary>The native JSON config (viz_collector_new_with_storage), created unstarted,
        /// with the lent storages' routes (a JSON array) if any.</summary>
        internal string ToJson(string storageRoutes = null)
        {
            var strategy = new[] { "time_based", "size_based", "manual", "hybrid" }[(int)Strategy];
            var sb = new StringBuilder();
            sb.Append("{\"start\": false, \"collector\": {");
            sb.AppendFormat(CultureInfo.InvariantCulture,
                "\"buffer_capacity\": {0}, \"flush_interval_ms\": {1}, \"batch_size\": {2}, \"strategy\": \"{3}\", \"overflow\": \"{4}\", \"max_queue_length\": {5}, \"shutdown_timeout_ms\": {6}",
                BufferCapacity, (long)Math.Max(1, FlushInterval.TotalMilliseconds), BatchSize, strategy,
                EnableBackpressure ? "block" : "drop_oldest", MaxQueueLength, TimeoutMs);
            // The library's default of 256 batches a backend let a slow one hold 25,600
            // events of 100 behind MaxQueueLength = 1000: the seed's bound, ignored.
            // Bounding each stage still let about three times it wait (a producer's
            // queue, staging, a backend's queue); max_held_events bounds the sum.
            sb.AppendFormat(CultureInfo.InvariantCulture, ", \"destination_queue_batches\": {0}, \"max_held_events\": {1}",
                DestinationQueueBatches, Math.Max(MaxQueueLength, BatchSize));
            // A garbage collection can hold a C# backend's thread for longer than the
            // library's 250 ms stall timeout, after which a full backend queue loses
            // batches; a GC pause is normal operation, so only a backend that finishes
            // nothing for 5 s counts as stalled here (CI lost 1,548 of 20,021 events
            // to GC pauses on CoreCLR with the 250 ms default).
            sb.Append(", \"destination_stall_timeout_ms\": 5000");
            if (BlockTimeout.HasValue)
                sb.AppendFormat(CultureInfo.InvariantCulture, ", \"block_timeout_ms\": {0}", (long)Math.Max(1, BlockTimeout.Value.TotalMilliseconds));
            if (MaxHeldBytes.HasValue)
                sb.AppendFormat(CultureInfo.InvariantCulture, ", \"max_held_bytes\": {0}", MaxHeldBytes.Value);
            sb.Append('}');
            if (storageRoutes != null) sb.Append(", \"storage_routes\": ").Append(storageRoutes);
            sb.Append('}');
            return sb.ToString();
        }
    }

    /// <summary>The library's own collector defaults (viz_collector_config_default).</summary>
    public static class LibraryDefaults
    {
        private static readonly VizCollectorConfig Config = Read();

        private static VizCollectorConfig Read()
        {
            VizCollectorConfig c;
            VizErrors.Check(NativeMethods.viz_collector_config_default(out c));
            return c;
        }

        /// <summary>How long stop and close wait for the backends, in milliseconds.</summary>
        public static long ShutdownTimeoutMs { get { return (long)Config.ShutdownTimeoutMs; } }
        /// <summary>The longest a blocked Collect waits, in milliseconds.</summary>
        public static long BlockTimeoutMs { get { return (long)Config.BlockTimeoutMs; } }
        /// <summary>The byte budget.</summary>
        public static long MaxHeldBytes { get { return (long)Config.MaxHeldBytes; } }
        /// <summary>The library's batch size (the seed's C# default is 100).</summary>
        public static long BatchSize { get { return (long)Config.BatchSize.ToUInt64(); } }
    }
}
