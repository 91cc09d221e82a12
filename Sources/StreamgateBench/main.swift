import StreamgateIO

// Only argument handling lives here: C callbacks in top-level code would be MainActor-isolated.
switch BenchOptions.parse(Array(CommandLine.arguments.dropFirst())) {
case .success(let options):
    BenchRunner.run(options)
case .failure(let error):
    if !error.message.isEmpty { ToolsProcess.printError("error: \(error.message)") }
    ToolsProcess.printError(BenchOptions.usage)
    BenchRunner.exit(error.message.isEmpty ? 0 : 2)
}
