"""One adapter per system, each turning its API into model records and its failures into a
readable Health."""
