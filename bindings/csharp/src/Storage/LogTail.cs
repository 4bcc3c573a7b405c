// Following a file:// log that a collector or another process is writing.
using System;
using System.Collections.Generic;
using System.Threading;
using MLFramework.Visualization.Native;

namespace MLFramework.Visualization.Storage
{
    /// <summary>Follows a file:// log directory that a collector or another process is
    /// writing: Next returns the events written after the tail's position, in order,
    /// across segment rolls. Offset is where it stands; save it to resume.</summary>
    public sealed class LogTail : IDisposable
    {
        private readonly LogTailHandle handle;

        /// <summary>A tail of the log in <paramref name="directory"/> at log offset
        /// <paramref name="offset"/> (0: the first event ever written; null: the end,
        /// so only what is written from now on).</summary>
        public LogTail(string directory, long? offset = 0)
        {
            if (directory == null) throw new ArgumentNullException("directory");
            if (offset < 0) throw new ArgumentOutOfRangeException("offset", offset, "offset must not be negative");
            ulong start = offset.HasValue ? (ulong)offset.Value : ulong.MaxValue;
            VizErrors.Check(NativeMethods.viz_log_tail_open(Utf8.Encode(directory), start, out handle));
        }

        /// <summary>Up to <paramref name="max"/> new events; an empty list means nothing new yet.</summary>
        public IReadOnlyList<Event> Next(int max = 1000)
        {
            if (max < 0) throw new ArgumentOutOfRangeException("max", max, "max is negative");
            EventsHandle events;
            VizErrors.Check(NativeMethods.viz_log_tail_next(handle, (UIntPtr)max, out events));
            return EventReader.ReadAll(events).AsReadOnly();
        }

        /// <summary>New events as they are written, polling every
        /// <paramref name="pollMs"/> ms when there is nothing new, until
        /// <paramref name="cancel"/> is cancelled.</summary>
        public IEnumerable<Event> Follow(CancellationToken cancel, int pollMs = 100)
        {
            while (!cancel.IsCancellationRequested)
            {
                var events = Next();
                if (events.Count == 0) cancel.WaitHandle.WaitOne(pollMs);
                foreach (var e in events) yield return e;
            }
        }

        /// <summary>The log offset of the next event this tail returns.</summary>
        public long Offset { get { return (long)NativeMethods.viz_log_tail_offset(handle); } }

        /// <summary>Damaged records and stretches skipped so far.</summary>
        public long Damage { get { return (long)NativeMethods.viz_log_tail_damage(handle); } }

        /// <summary>Frees the tail.</summary>
        public void Dispose() { handle.Dispose(); }
    }
}
