// One scalar Collect from C# on Mono: ns per call, median of interleaved reps, for the
// three ways to log a scalar. Run: bash bindings/csharp/build.sh bench [calls] [reps]
// (use a release libviz: VIZ_LIB_DIR=target/release after cargo build --release).
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using MLFramework.Visualization;
using MLFramework.Visualization.Collection;
using MLFramework.Visualization.Storage;

static class Bench
{
    static double Median(List<double> v) { v.Sort(); return v[v.Count / 2]; }

    static int Main(string[] args)
    {
        int n = args.Length > 0 ? int.Parse(args[0]) : 2000000;
        int reps = args.Length > 1 ? int.Parse(args[1]) : 7;
        var storage = new NativeStorageBackend(null, "memory://?capacity=1000");
        var config = new EventCollectorConfig { BufferCapacity = 10000, BatchSize = 1000 };
        using (var c = new AsyncEventCollector(storage, config))
        {
            c.Start();
            uint id = c.Intern("bench/cs");
            var ways = new List<KeyValuePair<string, Action<long>>>
            {
                new KeyValuePair<string, Action<long>>("viz_abi_version() (a bare P/Invoke)", i => MLFramework.Visualization.Native.NativeMethods.viz_abi_version()),
                new KeyValuePair<string, Action<long>>("empty delegate call (the loop's floor)", i => { }),
                new KeyValuePair<string, Action<long>>("CollectScalar(tagId, step, value)", i => c.CollectScalar(id, i, 1.0)),
                new KeyValuePair<string, Action<long>>("CollectScalar(\"tag\", step, value)", i => c.CollectScalar("bench/cs", i, 1.0)),
                new KeyValuePair<string, Action<long>>("Collect(new ScalarEvent(...))", i => c.Collect(new ScalarEvent("bench/cs", i, 1.0))),
            };
            var results = ways.Select(_ => new List<double>()).ToList();
            for (long i = 0; i < 200000; i++) foreach (var w in ways) w.Value(i); // JIT and lanes warm
            for (int r = 0; r < reps; r++)
            {
                for (int w = 0; w < ways.Count; w++)
                {
                    var f = ways[w].Value;
                    var sw = Stopwatch.StartNew();
                    for (long i = 0; i < n; i++) f(i);
                    sw.Stop();
                    results[w].Add(sw.Elapsed.TotalMilliseconds * 1e6 / n);
                }
            }
            c.Flush();
            Console.WriteLine("Mono " + Environment.Version + ", " + n + " calls x " + reps + " interleaved reps, memory:// backend");
            for (int w = 0; w < ways.Count; w++)
                Console.WriteLine(string.Format("  {0,-40} median {1,6:F1} ns/call  (runs: {2})", ways[w].Key, Median(results[w]),
                    string.Join(" ", results[w].Select(x => x.ToString("F1")))));
            var s = c.Stats;
            Console.WriteLine("  collected " + s.Collected + ", written " + s.Written + ", dropped " + (s.DroppedOldest + s.DroppedNewest + s.DroppedBlockTimeout));
        }
        storage.Dispose();
        return 0;
    }
}
