using System;
using System.IO;

namespace MLFramework.Visualization
{
    /// <summary>viz_status: the native result codes (fixed values).</summary>
    public enum VizStatus
    {
        /// <summary>Success.</summary>
        Ok = 0,
        /// <summary>A required argument was null.</summary>
        NullArgument = 1,
        /// <summary>An argument is out of range or malformed.</summary>
        InvalidArgument = 2,
        /// <summary>A string is not valid UTF-8.</summary>
        InvalidUtf8 = 3,
        /// <summary>A configuration is invalid.</summary>
        InvalidConfig = 4,
        /// <summary>No backend type is registered under the name.</summary>
        UnknownBackendType = 5,
        /// <summary>A storage backend failed.</summary>
        BackendError = 6,
        /// <summary>An I/O operation failed.</summary>
        Io = 7,
        /// <summary>The queue is full and the overflow policy rejected the event.</summary>
        QueueFull = 8,
        /// <summary>The collector or backend is stopped or closed.</summary>
        Closed = 9,
        /// <summary>The operation did not finish before its deadline.</summary>
        Timeout = 10,
        /// <summary>The operation is not supported by this backend.</summary>
        Unsupported = 11,
        /// <summary>Stored data failed an integrity check.</summary>
        CorruptData = 12,
        /// <summary>Native code panicked; the panic was caught at the boundary.</summary>
        Panic = 13,
    }

    /// <summary>A native failure that no more specific .NET exception type fits.</summary>
    public class VizException : Exception
    {
        /// <summary>The native status.</summary>
        public VizStatus Status { get; private set; }

        /// <summary>An exception carrying a native status and message.</summary>
        public VizException(VizStatus status, string message) : base(message) { Status = status; }
    }

    /// <summary>Turns native statuses into .NET exceptions carrying the native message.</summary>
    public static class VizErrors
    {
        /// <summary>Key under which every thrown exception's Data holds its VizStatus.</summary>
        public const string StatusKey = "viz.status";

        /// <summary>The VizStatus a viz exception carries, or null for other exceptions.</summary>
        public static VizStatus? StatusOf(Exception e)
        {
            return e != null && e.Data.Contains(StatusKey) ? (VizStatus?)(VizStatus)e.Data[StatusKey] : null;
        }

        internal static unsafe string LastMessage()
        {
            var buf = new byte[1024];
            fixed (byte* p = buf)
            {
                ulong needed = (ulong)Native.NativeMethods.viz_last_error_message(p, (UIntPtr)buf.Length);
                if (needed >= (ulong)buf.Length)
                {
                    buf = new byte[needed + 1];
                    fixed (byte* q = buf) Native.NativeMethods.viz_last_error_message(q, (UIntPtr)buf.Length);
                }
            }
            int n = Array.IndexOf(buf, (byte)0);
            return System.Text.Encoding.UTF8.GetString(buf, 0, n < 0 ? buf.Length : n);
        }

        /// <summary>Throws the exception for a failed native call (reads the calling thread's message).</summary>
        internal static void Check(int status)
        {
            if (status != 0) throw For((VizStatus)status, LastMessage());
        }

        /// <summary>The .NET exception type that fits a status.</summary>
        public static Exception For(VizStatus status, string message)
        {
            Exception e;
            switch (status)
            {
                case VizStatus.NullArgument: e = new ArgumentNullException(null, message); break;
                case VizStatus.InvalidArgument:
                case VizStatus.InvalidUtf8:
                case VizStatus.InvalidConfig:
                case VizStatus.UnknownBackendType: e = new ArgumentException(message); break;
                case VizStatus.Io: e = new IOException(message); break;
                case VizStatus.CorruptData: e = new InvalidDataException(message); break;
                case VizStatus.QueueFull:
                case VizStatus.Closed: e = new InvalidOperationException(message); break;
                case VizStatus.Timeout: e = new TimeoutException(message); break;
                case VizStatus.Unsupported: e = new NotSupportedException(message); break;
                default: e = new VizException(status, message); break;
            }
            e.Data[StatusKey] = status;
            return e;
        }

        /// <summary>The status to hand native code for an exception thrown by host code.</summary>
        internal static int StatusFor(Exception e)
        {
            var known = StatusOf(e);
            if (known.HasValue) return (int)known.Value;
            if (e is NotSupportedException) return (int)VizStatus.Unsupported;
            if (e is ArgumentException) return (int)VizStatus.InvalidArgument;
            if (e is IOException) return (int)VizStatus.Io;
            return (int)VizStatus.BackendError;
        }
    }
}
