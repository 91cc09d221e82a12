// Top-level code is MainActor-isolated: everything with C callbacks lives in BenchRunner.
BenchCommand.main()
