// One scalar Collect from C# (Mono or CoreCLR): ns per call, median of interleaved reps, for the
// three ways to log a scalar. Run: bash bindings/csharp/build.sh bench [calls] [reps] (Mono)
// or bash bindings/csharp/dotnet.sh bench [calls] [reps] (CoreCLR)
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

    // Mono reports its own version through Mono.Runtime; CoreCLR through the framework
    // description (Environment.Version is the CLR's, which differs between the two).
    static string RuntimeName()
    {
        var mono = Type.GetType("Mono.Runtime");
        if (mono != null)
        {
            var name = mono.GetMethod("GetDisplayName", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static);
            return "Mono " + (name != null ? name.Invoke(null, null) : Environment.Version.ToString());
        }
        return System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription;
    }

    static int Main(string[] args)
    {
        int n = args.Length > 0 ? int.Parse(args[0]) : 2000000;
        int reps = args.Length > 1 ? int.Parse(args[1]) : 7;
        // Bursts of 1000 calls, with an untimed Flush between them, time the call
        // itself: the buffer (10k) never fills, as in a training loop, which logs far
        // below the worker's rate. "sustained" times back-to-back calls, which soon
        // wait on the worker: that is throughput, not the cost of a call.
        const int burst = 1000;
        var storage = new NativeStorageBackend(null, "memory://?capacity=1000");
        var config = new EventCollectorConfig { BufferCapacity = 10000, BatchSize = 1000 };
        using (var c = new AsyncEventCollector(storage, config))
        {
            c.Start();
            uint id = c.Intern("bench/cs");
            var ways = new List<Tuple<string, bool, Action<long>>>
            {
                Tuple.Create<string, bool, Action<long>>("viz_abi_version() (a bare P/Invoke)", false, i => MLFramework.Visualization.Native.NativeMethods.viz_abi_version()),
                Tuple.Create<string, bool, Action<long>>("empty delegate call (the loop's floor)", false, i => { }),
                Tuple.Create<string, bool, Action<long>>("CollectScalar(tagId, step, value)", true, i => c.CollectScalar(id, i, 1.0)),
                Tuple.Create<string, bool, Action<long>>("CollectScalar(\"tag\", step, value)", true, i => c.CollectScalar("bench/cs", i, 1.0)),
                Tuple.Create<string, bool, Action<long>>("Collect(new ScalarEvent(...))", true, i => c.Collect(new ScalarEvent("bench/cs", i, 1.0))),
                Tuple.Create<string, bool, Action<long>>("CollectScalar(tagId, ...), sustained", false, i => c.CollectScalar(id, i, 1.0)),
            };
            var results = ways.Select(_ => new List<double>()).ToList();
            for (long i = 0; i < 200000; i++) foreach (var w in ways) w.Item3(i); // JIT and lanes warm
            for (int r = 0; r < reps; r++)
            {
                for (int w = 0; w < ways.Count; w++)
                {
                    var f = ways[w].Item3;
                    c.Flush();
                    var sw = new Stopwatch();
                    if (ways[w].Item2)
                    {
                        for (long b = 0; b < n; b += burst)
                        {
                            c.Flush();
                            sw.Start();
                            for (long i = b; i < b + burst; i++) f(i);
                            sw.Stop();
                        }
                    }
                    else
                    {
                        sw.Start();
                        for (long i = 0; i < n; i++) f(i);
                        sw.Stop();
                    }
                    results[w].Add(sw.Elapsed.TotalMilliseconds * 1e6 / n);
                }
            }
            c.Flush();
            Console.WriteLine(RuntimeName() + ", " + n + " calls x " + reps + " interleaved reps (bursts of " + burst + " but for the first two and sustained), memory:// backend");
            for (int w = 0; w < ways.Count; w++)
                Console.WriteLine(string.Format("  {0,-40} median {1,6:F1} ns/call  (runs: {2})", ways[w].Item1, Median(results[w]),
                    string.Join(" ", results[w].Select(x => x.ToString("F1")))));
            var s = c.Stats;
            Console.WriteLine("  collected " + s.Collected + ", written " + s.Written + ", dropped " + (s.DroppedOldest + s.DroppedNewest + s.DroppedBlockTimeout));
        }
        storage.Dispose();
        return 0;
    }
}
