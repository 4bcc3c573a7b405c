// A run's metadata as a dictionary: hyperparameters, config, code version, tags.
using System;
using System.Collections;
using System.Collections.Generic;
using MLFramework.Visualization.Native;

namespace MLFramework.Visualization.Storage
{
    /// <summary>A run's metadata (AsyncEventCollector.Metadata,
    /// NativeStorageBackend.Metadata) as a dictionary of JSON-typed values: strings,
    /// numbers (read back as double), bools, lists and dictionaries. Every change is
    /// atomic (SetMany and RemoveMany change several keys at once); reads ask libviz
    /// each time, so they see what other writers of the run (its other ranks) set.</summary>
    public sealed class RunMetadata : IDictionary<string, object>
    {
        private readonly Func<byte[], int> set;
        private readonly Func<byte[], int> delete;
        private readonly Func<string> get;

        internal RunMetadata(Func<byte[], int> set, Func<byte[], int> delete, Func<string> get)
        {
            this.set = set; this.delete = delete; this.get = get;
        }

        private Dictionary<string, object> All() { return (Dictionary<string, object>)Json.Read(get()); }

        /// <summary>Sets several keys in one atomic batch.</summary>
        public void SetMany(IDictionary<string, object> values)
        {
            if (values == null) throw new ArgumentNullException("values");
            var plain = new Dictionary<string, object>(values);
            VizErrors.Check(set(Utf8.Encode(Json.Write(plain))));
        }

        /// <summary>Removes several keys in one atomic batch (absent ones are ignored).</summary>
        public void RemoveMany(IEnumerable<string> keys)
        {
            if (keys == null) throw new ArgumentNullException("keys");
            VizErrors.Check(delete(Utf8.Encode(Json.Write(new List<string>(keys)))));
        }

        /// <inheritdoc/>
        public object this[string key]
        {
            get
            {
                object v;
                if (!TryGetValue(key, out v)) throw new KeyNotFoundException("no metadata key '" + key + "'");
                return v;
            }
            set { SetMany(new Dictionary<string, object> { { key, value } }); }
        }

        /// <inheritdoc/>
        public bool TryGetValue(string key, out object value) { return All().TryGetValue(key, out value); }
        /// <inheritdoc/>
        public bool ContainsKey(string key) { return All().ContainsKey(key); }
        /// <inheritdoc/>
        public void Add(string key, object value)
        {
            if (ContainsKey(key)) throw new ArgumentException("metadata key '" + key + "' is already set");
            this[key] = value;
        }
        /// <inheritdoc/>
        public bool Remove(string key)
        {
            if (!ContainsKey(key)) return false;
            RemoveMany(new[] { key });
            return true;
        }
        /// <inheritdoc/>
        public ICollection<string> Keys { get { return All().Keys; } }
        /// <inheritdoc/>
        public ICollection<object> Values { get { return All().Values; } }
        /// <inheritdoc/>
        public int Count { get { return All().Count; } }
        /// <inheritdoc/>
        public bool IsReadOnly { get { return false; } }
        /// <inheritdoc/>
        public void Add(KeyValuePair<string, object> item) { Add(item.Key, item.Value); }
        /// <inheritdoc/>
        public void Clear() { RemoveMany(All().Keys); }
        /// <inheritdoc/>
        public bool Contains(KeyValuePair<string, object> item)
        {
            object v;
            return TryGetValue(item.Key, out v) && Equals(v, item.Value);
        }
        /// <inheritdoc/>
        public void CopyTo(KeyValuePair<string, object>[] array, int index)
        {
            ((ICollection<KeyValuePair<string, object>>)All()).CopyTo(array, index);
        }
        /// <inheritdoc/>
        public bool Remove(KeyValuePair<string, object> item) { return Contains(item) && Remove(item.Key); }
        /// <inheritdoc/>
        public IEnumerator<KeyValuePair<string, object>> GetEnumerator() { return All().GetEnumerator(); }
        IEnumerator IEnumerable.GetEnumerator() { return GetEnumerator(); }

        /// <summary>The JSON text of a viz_*_metadata_get call, sized first.</summary>
        internal static unsafe string Fetch(GetFn call)
        {
            UIntPtr needed;
            VizErrors.Check(call(null, UIntPtr.Zero, out needed));
            while (true)
            {
                var buf = new byte[(int)needed.ToUInt64() + 1];
                VizErrors.Check(call(buf, (UIntPtr)buf.Length, out needed));
                if (needed.ToUInt64() < (ulong)buf.Length) return Utf8.Decode(buf, (int)needed.ToUInt64());
            }
        }

        internal delegate int GetFn(byte[] buf, UIntPtr len, out UIntPtr needed);
    }
}
