using System.Runtime.CompilerServices;

// The test program checks finalizer bookkeeping that is not public API.
[assembly: InternalsVisibleTo("Tests")]
// The benchmark measures a bare P/Invoke as the floor of every call.
[assembly: InternalsVisibleTo("Bench")]
