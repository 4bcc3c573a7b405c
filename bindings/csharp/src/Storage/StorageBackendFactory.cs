using System;
using System.Collections.Concurrent;
using MLFramework.Visualization.Native;

namespace MLFramework.Visualization.Storage
{
    /// <summary>
    /// Creates backends by type (seed 000). Types registered here are written in C#; each
    /// is also registered with libviz (viz_backend_register), so a native collector
    /// configured with "&lt;type&gt;://..." delivers to it. Any other type is viz's own
    /// ("file", "tensorboard", "memory", "jsonl") and comes back as a NativeStorageBackend.
    /// </summary>
    public sealed class StorageBackendFactory : IStorageBackendFactory
    {
        private static readonly StorageBackendFactory Shared = new StorageBackendFactory();
        private readonly ConcurrentDictionary<string, Func<IStorageBackend>> types =
            new ConcurrentDictionary<string, Func<IStorageBackend>>();

        /// <summary>The process-wide factory (native registrations are process-wide too).</summary>
        public static StorageBackendFactory Default { get { return Shared; } }

        /// <summary>Registers a backend type written in C#.</summary>
        /// <exception cref="ArgumentException">The name is empty, malformed or taken (natively too).</exception>
        public void RegisterBackend(string backendType, Func<IStorageBackend> create)
        {
            if (backendType == null) throw new ArgumentNullException("backendType");
            if (create == null) throw new ArgumentNullException("create");
            if (!types.TryAdd(backendType, create))
                throw new ArgumentException("backend type '" + backendType + "' is already registered");
            try { HostBackendBridge.Register(backendType, create); }
            catch
            {
                Func<IStorageBackend> ignored;
                types.TryRemove(backendType, out ignored);
                throw;
            }
        }

        /// <summary>Removes a type registered here; false if it was not.</summary>
        public bool UnregisterBackend(string backendType)
        {
            Func<IStorageBackend> ignored;
            if (backendType == null || !types.TryRemove(backendType, out ignored)) return false;
            HostBackendBridge.Unregister(backendType);
            return true;
        }

        /// <summary>Whether backendType was registered here.</summary>
        public bool IsRegistered(string backendType)
        {
            return backendType != null && types.ContainsKey(backendType);
        }

        /// <inheritdoc/>
        /// <exception cref="ArgumentException">Unknown type or bad connection string; the message says which.</exception>
        public IStorageBackend CreateBackend(string backendType, string connectionString)
        {
            if (connectionString == null) throw new ArgumentNullException("connectionString");
            Func<IStorageBackend> create;
            if (backendType != null && types.TryGetValue(backendType, out create))
            {
                var backend = create();
                if (backend == null) throw new InvalidOperationException("the factory of backend type '" + backendType + "' returned null");
                backend.Initialize(connectionString);
                return backend;
            }
            return new NativeStorageBackend(backendType, connectionString);
        }

        /// <summary>A backend from a validated configuration.</summary>
        public IStorageBackend CreateBackend(StorageConfiguration configuration)
        {
            if (configuration == null) throw new ArgumentNullException("configuration");
            configuration.Validate();
            return CreateBackend(configuration.ResolvedType(), configuration.ConnectionString ?? configuration.ResolvedType() + "://");
        }
    }
}
