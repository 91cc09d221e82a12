import StreamgateIO
print("bench")
