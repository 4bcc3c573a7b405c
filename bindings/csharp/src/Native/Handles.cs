// One SafeHandle per native handle type, so a handle is released exactly once, even
// when its owner is never disposed, and never while a P/Invoke call is using it.
using System;
using System.Runtime.InteropServices;

namespace MLFramework.Visualization.Native
{
    /// <summary>Owns a viz_collector; releasing it stops the collector and frees it.</summary>
    internal sealed class CollectorHandle : SafeHandle
    {
        /// <summary>How long the release waits for backends to flush.</summary>
        internal uint CloseTimeoutMs = 10000;

        public CollectorHandle() : base(IntPtr.Zero, true) { }

        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }

        protected override bool ReleaseHandle()
        {
            return NativeMethods.viz_collector_close(handle, CloseTimeoutMs) == 0;
        }
    }

    /// <summary>Owns a viz_storage handle.</summary>
    internal sealed class StorageHandle : SafeHandle
    {
        public StorageHandle() : base(IntPtr.Zero, true) { }

        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }

        protected override bool ReleaseHandle()
        {
            NativeMethods.viz_storage_free(handle);
            return true;
        }
    }

    /// <summary>Owns a viz_cursor: a query's results, read in batches.</summary>
    internal sealed class CursorHandle : SafeHandle
    {
        public CursorHandle() : base(IntPtr.Zero, true) { }

        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }

        protected override bool ReleaseHandle()
        {
            NativeMethods.viz_cursor_free(handle);
            return true;
        }
    }

    /// <summary>Owns a viz_subscription; releasing it cancels the watch.</summary>
    internal sealed class SubscriptionHandle : SafeHandle
    {
        public SubscriptionHandle() : base(IntPtr.Zero, true) { }

        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }

        protected override bool ReleaseHandle()
        {
            NativeMethods.viz_subscription_free(handle);
            return true;
        }
    }

    /// <summary>Owns a viz_run_repository.</summary>
    internal sealed class RunRepositoryHandle : SafeHandle
    {
        public RunRepositoryHandle() : base(IntPtr.Zero, true) { }

        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }

        protected override bool ReleaseHandle()
        {
            NativeMethods.viz_run_repository_free(handle);
            return true;
        }
    }

    /// <summary>Owns a viz_log_tail.</summary>
    internal sealed class LogTailHandle : SafeHandle
    {
        public LogTailHandle() : base(IntPtr.Zero, true) { }

        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }

        protected override bool ReleaseHandle()
        {
            NativeMethods.viz_log_tail_free(handle);
            return true;
        }
    }

    /// <summary>Owns a viz_aggregate_list.</summary>
    internal sealed class AggregateListHandle : SafeHandle
    {
        public AggregateListHandle() : base(IntPtr.Zero, true) { }

        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }

        protected override bool ReleaseHandle()
        {
            NativeMethods.viz_aggregate_list_free(handle);
            return true;
        }
    }

    /// <summary>Owns a viz_bucket_list.</summary>
    internal sealed class BucketListHandle : SafeHandle
    {
        public BucketListHandle() : base(IntPtr.Zero, true) { }

        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }

        protected override bool ReleaseHandle()
        {
            NativeMethods.viz_bucket_list_free(handle);
            return true;
        }
    }

    /// <summary>Owns a viz_event_list read result.</summary>
    internal sealed class EventsHandle : SafeHandle
    {
        public EventsHandle() : base(IntPtr.Zero, true) { }

        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }

        protected override bool ReleaseHandle()
        {
            NativeMethods.viz_event_list_free(handle);
            return true;
        }
    }
}
