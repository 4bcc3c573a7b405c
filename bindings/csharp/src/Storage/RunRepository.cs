// The runs of a project directory: listed, found, read as one run, deleted.
using System;
using System.Collections.Generic;
using MLFramework.Visualization.Native;

namespace MLFramework.Visualization.Storage
{
    /// <summary>One run of a project (RunRepository.List).</summary>
    public sealed class RunInfo
    {
        /// <summary>The project: the name of its directory.</summary>
        public string Project { get; internal set; }
        /// <summary>The run's name.</summary>
        public string Name { get; internal set; }
        /// <summary>When its first writer created it.</summary>
        public DateTimeOffset Created { get; internal set; }
        /// <summary>Its directory.</summary>
        public string Path { get; internal set; }
        /// <summary>Its ranks, ascending.</summary>
        public IReadOnlyList<int> Ranks { get; internal set; }
        /// <summary>Events stored, over every rank.</summary>
        public long Events { get; internal set; }
        /// <summary>Bytes on disk.</summary>
        public long Bytes { get; internal set; }
        /// <summary>Each tag with its event count.</summary>
        public IReadOnlyDictionary<string, long> Tags { get; internal set; }
        /// <summary>Smallest and largest step, or null for an empty run.</summary>
        public long[] Steps { get; internal set; }
        /// <summary>Its metadata.</summary>
        public IReadOnlyDictionary<string, object> Metadata { get; internal set; }
    }

    /// <summary>The runs of a project directory, which file:// backends write with
    /// "file://DIR?run=NAME&amp;rank=N" (rank N of run NAME). Dispose frees the handle;
    /// the runs stay.</summary>
    public sealed class RunRepository : IDisposable
    {
        private readonly RunRepositoryHandle handle;

        /// <summary>The runs under <paramref name="root"/>, which must exist.</summary>
        public RunRepository(string root)
        {
            if (root == null) throw new ArgumentNullException("root");
            VizErrors.Check(NativeMethods.viz_run_repository_open(Utf8.Encode(root), out handle));
        }

        /// <summary>The runs' names, sorted.</summary>
        public IReadOnlyList<string> Names
        {
            get
            {
                var list = (List<object>)Json.Read(RunMetadata.Fetch((byte[] b, UIntPtr n, out UIntPtr needed) =>
                    NativeMethods.viz_run_repository_names(handle, b, n, out needed)));
                return list.ConvertAll(x => (string)x).AsReadOnly();
            }
        }

        /// <summary>How many runs there are.</summary>
        public int Count { get { return Names.Count; } }

        /// <summary>Whether run <paramref name="name"/> exists.</summary>
        public bool Exists(string name) { return new List<string>(Names).Contains(name); }

        /// <summary>The runs <paramref name="filterJson"/> selects ({"name": pattern,
        /// "metadata": {key: value}}; null: every run), in name order.</summary>
        public IReadOnlyList<RunInfo> List(string filterJson = null)
        {
            byte[] filter = filterJson == null ? null : Utf8.Encode(filterJson);
            var rows = (List<object>)Json.Read(RunMetadata.Fetch((byte[] b, UIntPtr n, out UIntPtr needed) =>
                NativeMethods.viz_run_repository_list(handle, filter, b, n, out needed)));
            return rows.ConvertAll(r => Info((Dictionary<string, object>)r)).AsReadOnly();
        }

        private static RunInfo Info(Dictionary<string, object> r)
        {
            var tags = new Dictionary<string, long>();
            foreach (var t in (Dictionary<string, object>)r["tags"]) tags[t.Key] = (long)(double)t.Value;
            var steps = r["steps"] as List<object>;
            return new RunInfo
            {
                Project = (string)r["project"], Name = (string)r["name"], Path = (string)r["path"],
                Created = DateTimeOffset.FromUnixTimeMilliseconds((long)(double)r["created_unix_ms"]),
                Ranks = ((List<object>)r["ranks"]).ConvertAll(x => (int)(double)x).AsReadOnly(),
                Events = (long)(double)r["events"], Bytes = (long)(double)r["bytes"], Tags = tags,
                Steps = steps == null ? null : new[] { (long)(double)steps[0], (long)(double)steps[1] },
                Metadata = (Dictionary<string, object>)r["metadata"],
            };
        }

        /// <summary>The events of every rank of run <paramref name="name"/>, as one run,
        /// that a query (JSON, as for AsyncEventCollector.Query) selects.</summary>
        public IEnumerable<Event> Query(string name, string queryJson, int batch = 1000)
        {
            if (name == null) throw new ArgumentNullException("name");
            if (queryJson == null) throw new ArgumentNullException("queryJson");
            CursorHandle cursor;
            VizErrors.Check(NativeMethods.viz_run_repository_query(handle, Utf8.Encode(name), Utf8.Encode(queryJson), out cursor));
            return EventReader.ReadCursor(cursor, batch);
        }

        /// <summary>A query over several runs: each run <paramref name="filterJson"/>
        /// selects (null: every run) with the events <paramref name="queryJson"/> selects in it.</summary>
        public IDictionary<string, List<Event>> QueryRuns(string filterJson, string queryJson)
        {
            var byRun = new SortedDictionary<string, List<Event>>(StringComparer.Ordinal);
            foreach (var run in List(filterJson)) byRun[run.Name] = new List<Event>(Query(run.Name, queryJson));
            return byRun;
        }

        /// <summary>Deletes run <paramref name="name"/> with its data; refused (IOException)
        /// while any of its ranks is being written.</summary>
        public void Delete(string name)
        {
            if (name == null) throw new ArgumentNullException("name");
            VizErrors.Check(NativeMethods.viz_run_repository_delete(handle, Utf8.Encode(name)));
        }

        /// <summary>Frees the handle.</summary>
        public void Dispose() { handle.Dispose(); }
    }
}
