import StreamgateIO

// Only argument handling lives here: C callbacks in top-level code would be MainActor-isolated.
switch DemoOptions.parse(Array(CommandLine.arguments.dropFirst())) {
case .success(let options):
    DemoServer.run(options)
case .failure(let error):
    if !error.message.isEmpty { ToolsProcess.printError("error: \(error.message)") }
    ToolsProcess.printError(DemoOptions.usage)
    DemoServer.exit(error.message.isEmpty ? 0 : 2)
}
