// The training loop of examples/training_loop.rs, from C#: scalars every 10 steps, a
// histogram, a text and a tensor every 1000, into a TensorBoard run and viz's durable
// log under ./runs/<name> (and, given a tracking URI, to that MLflow server through a spool
// in runs/<name>/spool), then reads a step range back from the log.
// Run: bash bindings/csharp/build.sh example [steps] [name] [tracking_uri, e.g. http://127.0.0.1:5000]
using System;
using System.Diagnostics;
using System.Linq;
using MLFramework.Visualization;
using MLFramework.Visualization.Collection;
using MLFramework.Visualization.Storage;

static class TrainingLoop
{
    static int Main(string[] args)
    {
        long steps = args.Length > 0 ? long.Parse(args[0]) : 100000;
        string run = args.Length > 1 ? args[1] : "csharp-" + DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        string tracking = args.Length > 2 ? args[2] : null;
        var factory = StorageBackendFactory.Default;
        using (var tensorboard = (NativeStorageBackend)factory.CreateBackend("tensorboard", "tensorboard://runs/" + run))
        using (var log = (NativeStorageBackend)factory.CreateBackend("file", "file://runs/" + run + "/log"))
        using (var mlflow = tracking == null ? null : (NativeStorageBackend)factory.CreateBackend("mlflow",
            "mlflow+" + tracking + "?experiment=viz-examples&run=" + run + "&spool=runs/" + run + "/spool"))
        using (var collector = new AsyncEventCollector(mlflow == null
            ? new IStorageBackend[] { log, tensorboard } : new IStorageBackend[] { log, tensorboard, mlflow }))
        {
            collector.Start();
            // A live watch: the histograms, as they are delivered (on viz's watch thread).
            long histograms = 0;
            var watch = collector.Subscribe(batch => System.Threading.Interlocked.Add(ref histograms, batch.Count),
                "{\"kinds\": [\"histogram\"]}");
            uint loss = collector.Intern("train/loss"), acc = collector.Intern("train/accuracy");
            var rng = new Random(7);
            var sw = Stopwatch.StartNew();
            long events = 0;
            for (long step = 0; step < steps; step++)
            {
                if (step % 10 == 0)
                {
                    collector.CollectScalar(loss, step, 1.0 / (1 + step * 0.001));
                    collector.CollectScalar(acc, step, 1.0 - 1.0 / (1 + step * 0.001));
                    events += 2;
                }
                if (step % 1000 == 0)
                {
                    var weights = Enumerable.Range(0, 256).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
                    collector.Collect(new HistogramEvent("train/weights", step, weights, 30));
                    collector.Collect(new TextEvent("train/note", step, "step " + step + " done"));
                    collector.Collect(TensorEvent.FromFloats("train/embedding", step, new float[] { 0.1f, 0.2f, 0.3f, 0.4f }, 2, 2));
                    events += 3;
                }
            }
            collector.Flush();
            sw.Stop();
            if (mlflow != null)
            {
                // Flush made everything durable in the spool; this waits for the server.
                collector.WaitAcknowledged(TimeSpan.FromMinutes(5));
                var r = collector.RemoteStats(2);
                Console.WriteLine("mlflow:     " + r.Delivered + " events acknowledged in " + r.Sends + " requests (see " + tracking + ", experiment viz-examples)");
            }
            var stats = collector.Stats;
            Console.WriteLine("steps:      " + steps);
            Console.WriteLine("events:     " + events + " (" + (events / sw.Elapsed.TotalSeconds / 1e6).ToString("F2") + " M events/s, flush included)");
            Console.WriteLine("written:    " + stats.Written + ", dropped " + (stats.DroppedOldest + stats.DroppedNewest + stats.DroppedBlockTimeout));
            foreach (var d in stats.Destinations)
                Console.WriteLine("  " + d.Name.PadRight(14) + " written " + d.Written + ", dropped " + d.Dropped);
            var back = collector.GetEvents(steps / 2, steps / 2 + 99).ToList();
            Console.WriteLine("read back:  " + back.Count + " events for steps " + steps / 2 + ".." + (steps / 2 + 99) + " from runs/" + run + "/log");
            // A query: the three latest losses in the durable log.
            var latest = collector.Query("{\"tags\": [\"train/loss\"], \"order\": \"step_desc\", \"limit\": 3}")
                .Select(e => "step " + e.Step + " loss " + ((ScalarEvent)e).Value.ToString("F4"));
            Console.WriteLine("latest:     " + string.Join(", ", latest));
            watch.Dispose();
            Console.WriteLine("watched:    " + System.Threading.Interlocked.Read(ref histograms) + " histograms live");
            Console.WriteLine("see the run: tensorboard --logdir runs   (this run is runs/" + run + ")");
            if (stats.Written != stats.Destinations.Count * events) { Console.WriteLine("not every event reached every backend"); return 1; }
        }
        return 0;
    }
}
