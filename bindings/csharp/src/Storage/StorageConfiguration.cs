using System;

namespace MLFramework.Visualization.Storage
{
    /// <summary>How to create and buffer a backend (seed 000).</summary>
    public class StorageConfiguration
    {
        /// <summary>"file", "memory", "tensorboard", "jsonl" or a registered type; empty means the connection string's scheme.</summary>
        public string BackendType { get; set; }
        /// <summary>Such as "file:///runs/exp1?fsync=flush".</summary>
        public string ConnectionString { get; set; }
        /// <summary>Events StorageBackendBase buffers before writing.</summary>
        public int WriteBufferSize { get; set; } = 100;
        /// <summary>How often StorageBackendBase writes its buffer out.</summary>
        public TimeSpan FlushInterval { get; set; } = TimeSpan.FromSeconds(1);
        /// <summary>Whether StorageBackendBase buffers (true) or writes every store through (false).</summary>
        public bool EnableAsyncWrites { get; set; } = true;

        /// <summary>Throws ArgumentException naming the first invalid property.</summary>
        public void Validate()
        {
            if (string.IsNullOrEmpty(BackendType) && string.IsNullOrEmpty(ConnectionString))
                throw new ArgumentException("StorageConfiguration: BackendType and ConnectionString are both empty; set at least ConnectionString");
            if (WriteBufferSize <= 0)
                throw new ArgumentException("StorageConfiguration.WriteBufferSize is " + WriteBufferSize + "; it must be positive");
            if (FlushInterval <= TimeSpan.Zero)
                throw new ArgumentException("StorageConfiguration.FlushInterval is " + FlushInterval + "; it must be positive");
            if (!string.IsNullOrEmpty(ConnectionString) && ConnectionString.IndexOf("://", StringComparison.Ordinal) <= 0)
                throw new ArgumentException("StorageConfiguration.ConnectionString '" + ConnectionString + "' has no scheme; write <type>://<location>");
        }

        /// <summary>The type named by BackendType, else by the connection string's scheme.</summary>
        public string ResolvedType()
        {
            if (!string.IsNullOrEmpty(BackendType)) return BackendType;
            return ConnectionString.Substring(0, ConnectionString.IndexOf("://", StringComparison.Ordinal));
        }
    }
}
