"""The Hounsfield-unit range of every CT the project writes: simulated (phantom), registered
(conversion) or made from labels (pseudo-CT), defined once, here."""

#: What a CT stores (12 bits, int16 files) and treatment planning systems accept.
HU_RANGE = (-1024, 3071)
