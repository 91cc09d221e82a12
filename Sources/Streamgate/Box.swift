/// A value moved out of line: a large struct needed only for part of an object's life (a head
/// parser while a head arrives) costs a pointer, not its full size, while a stream is held.
final class Box<Value> {
    var value: Value
    init(_ value: Value) { self.value = value }
}
