import Streamgate
print("streamgate")
