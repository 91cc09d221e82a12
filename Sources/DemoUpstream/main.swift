import StreamgateIO
print("demo")
