"""tinytorch.core.flat: lay_end_to_end copies arrays into one buffer (same shapes, values, dtype);
end_to_end finds the 1-D view that arrays cover when, and only when, they are consecutive C-ordered
pieces of one buffer, in order, of one dtype."""
import numpy as np
import pytest

from tinytorch.core.flat import end_to_end, lay_end_to_end, split_into

RNG = np.random.default_rng(0)


def arrays(dtype=np.float32, shapes=((2, 3), (4,), (1, 2, 2))):
    return [RNG.standard_normal(shape).astype(dtype) for shape in shapes]


# ---------------------------------------------------------------------------------- lay_end_to_end

@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_lay_end_to_end_keeps_shapes_values_and_dtype(dtype):
    originals = arrays(dtype)
    views = lay_end_to_end(originals)
    assert isinstance(views, list) and len(views) == len(originals)
    for view, original in zip(views, originals):
        assert type(view) is np.ndarray
        assert view.shape == original.shape and view.dtype == original.dtype
        np.testing.assert_array_equal(view, original)


def test_lay_end_to_end_copies_into_one_buffer():
    originals = arrays()
    kept = [a.copy() for a in originals]
    views = lay_end_to_end(originals)
    base = views[0].base
    assert base is not None and base.ndim == 1 and base.size == sum(a.size for a in originals)
    for view, original in zip(views, originals):
        assert view.base is base
        assert not np.shares_memory(view, original)
    for view in views[1:]:
        assert not np.shares_memory(view, views[0])        # consecutive, not overlapping
    views[0][...] = 7.0
    views[1][...] = 8.0
    for original, value in zip(originals, kept):             # the inputs are untouched
        np.testing.assert_array_equal(original, value)
    # the views are consecutive, in order: the buffer holds their values one after another
    np.testing.assert_array_equal(base, np.concatenate([v.reshape(-1) for v in views]))


def test_lay_end_to_end_takes_a_tuple_and_a_non_contiguous_input():
    a = RNG.standard_normal((3, 4)).astype(np.float32)
    views = lay_end_to_end((a.T, a[:, ::2]))
    assert [v.shape for v in views] == [(4, 3), (3, 2)]
    np.testing.assert_array_equal(views[0], a.T)
    np.testing.assert_array_equal(views[1], a[:, ::2])
    assert all(v.flags.c_contiguous for v in views)
    assert end_to_end(views) is not None


def test_lay_end_to_end_of_nothing_is_an_empty_list():
    assert lay_end_to_end([]) == []
    assert lay_end_to_end(()) == []


def test_lay_end_to_end_takes_0_d_and_empty_arrays():
    originals = [np.array(3.5), np.empty((0, 3)), np.arange(4.0), np.array(-1.0), np.empty(0)]
    views = lay_end_to_end(originals)
    assert [v.shape for v in views] == [(), (0, 3), (4,), (), (0,)]
    assert all(v.dtype == np.float64 and v.base is views[0].base for v in views)
    assert views[0] == 3.5 and views[3] == -1.0
    np.testing.assert_array_equal(views[2], np.arange(4.0))
    assert views[0].base.size == 6
    # Empty pieces occupy nothing (NumPy may point an empty slice at the buffer's start): the run is
    # recognised wherever they sit, and holds exactly the other pieces' values.
    assert end_to_end(views).tolist() == [3.5, 0.0, 1.0, 2.0, 3.0, -1.0]
    assert end_to_end(views[1:2]) is None                    # nothing but an empty piece
    assert end_to_end([views[1], views[0]]).tolist() == [3.5]


def test_end_to_end_of_0_d_arrays():
    views = lay_end_to_end([np.array(3.5, np.float32), np.arange(3, dtype=np.float32),
                            np.array(-1.0, np.float32)])
    flat = end_to_end(views)
    assert flat is not None
    np.testing.assert_array_equal(flat, [3.5, 0.0, 1.0, 2.0, -1.0])
    flat[-1] = 4.0
    assert views[2] == 4.0


@pytest.mark.parametrize("bad", [np.ones(3), np.ones((2, 2)), np.float32(1.0), 3, "abc", None,
                                 {"a": np.ones(2)}, (a for a in [np.ones(2)])])
def test_lay_end_to_end_refuses_anything_but_a_list_or_tuple(bad):
    with pytest.raises(TypeError, match="lay_end_to_end arrays"):
        lay_end_to_end(bad)


@pytest.mark.parametrize("entry", [[1.0, 2.0], 3.0, None, np.float32(1.0), np.ma.masked_array([1.0])])
def test_lay_end_to_end_refuses_an_entry_that_is_not_an_ndarray(entry):
    with pytest.raises(TypeError, match=r"lay_end_to_end arrays\[1\]"):
        lay_end_to_end([np.ones(2), entry])


def test_lay_end_to_end_refuses_mixed_dtypes():
    with pytest.raises(ValueError, match="lay_end_to_end arrays.*one dtype"):
        lay_end_to_end([np.ones(2, np.float32), np.ones(2, np.float64)])


# -------------------------------------------------------------------------------------- end_to_end

def test_end_to_end_is_a_1_d_view_of_the_arrays():
    views = lay_end_to_end(arrays())
    flat = end_to_end(views)
    assert flat.ndim == 1 and flat.dtype == np.float32 and flat.size == sum(v.size for v in views)
    np.testing.assert_array_equal(flat, np.concatenate([v.reshape(-1) for v in views]))
    flat[...] = np.arange(flat.size)                 # writing into it writes into the arrays
    np.testing.assert_array_equal(views[0], np.arange(6).reshape(2, 3))
    np.testing.assert_array_equal(views[1], np.arange(6, 10))
    np.testing.assert_array_equal(views[2], np.arange(10, 14).reshape(1, 2, 2))
    views[2][0, 1, 1] = -5.0                         # and the other way round
    assert flat[-1] == -5.0


def test_end_to_end_of_a_consecutive_sub_range():
    views = lay_end_to_end(arrays(shapes=((3,), (2, 2), (5,))))
    flat = end_to_end(views[1:])
    assert flat is not None and flat.shape == (9,)
    np.testing.assert_array_equal(flat, np.concatenate([views[1].reshape(-1), views[2]]))
    flat[...] = 0.0
    assert np.all(views[1] == 0) and np.all(views[2] == 0) and not np.all(views[0] == 0)
    first_two = end_to_end(views[:2])
    assert first_two is not None and first_two.shape == (7,)
    assert np.shares_memory(first_two, views[0]) and not np.shares_memory(first_two, views[2])


def test_end_to_end_of_a_single_view():
    views = lay_end_to_end(arrays(shapes=((2, 3), (4,))))
    flat = end_to_end([views[1]])
    assert flat is not None and flat.shape == (4,)
    flat[...] = 9.0
    np.testing.assert_array_equal(views[1], np.full(4, 9.0))
    assert not np.any(views[0] == 9.0)


def test_end_to_end_of_nothing_is_none():
    assert end_to_end([]) is None


def test_end_to_end_of_separate_buffers_is_none():
    assert end_to_end(arrays()) is None
    assert end_to_end([np.ones(2), np.ones(2)]) is None
    a, b = lay_end_to_end(arrays(shapes=((2,), (3,))))
    c, d = lay_end_to_end(arrays(shapes=((2,), (3,))))
    assert end_to_end([a, d]) is None                # each from a buffer of its own
    assert end_to_end([a, b, c]) is None


def test_end_to_end_refuses_the_wrong_order_and_a_gap():
    a, b, c = lay_end_to_end(arrays(shapes=((2,), (3,), (4,))))
    assert end_to_end([b, a]) is None
    assert end_to_end([a, c, b]) is None
    assert end_to_end([a, c]) is None                # b skipped: a gap
    assert end_to_end([a, a]) is None                # the same piece twice


def test_end_to_end_refuses_views_that_are_not_c_ordered_pieces():
    a, b = lay_end_to_end(arrays(shapes=((2, 3), (3, 2))))
    assert end_to_end([a.T, b]) is None              # the same memory, but transposed
    assert end_to_end([a, b.T]) is None
    buffer = np.arange(12.0)
    assert end_to_end([buffer[0:4:2], buffer[4:8]]) is None     # strided
    assert end_to_end([buffer[3::-1], buffer[4:8]]) is None     # reversed
    assert end_to_end([buffer[0:4], buffer[4:8]]) is not None   # the same buffer, plain slices


def test_end_to_end_refuses_a_dtype_reinterpreting_view():
    a, b = lay_end_to_end([np.ones(4, np.float32), np.ones(4, np.float32)])
    assert end_to_end([a.view(np.int32), b.view(np.int32)]) is None
    assert end_to_end([a, b.view(np.int32)]) is None
    raw = np.zeros(32, np.uint8)                      # float views of a byte buffer
    assert end_to_end([raw[:16].view(np.float32), raw[16:].view(np.float32)]) is None


def test_end_to_end_of_slices_of_one_buffer_at_an_offset():
    buffer = np.arange(20, dtype=np.float64)
    pieces = [buffer[5:11].reshape(2, 3), buffer[11:13], buffer[13:17].reshape(2, 2)]
    flat = end_to_end(pieces)
    assert flat is not None
    np.testing.assert_array_equal(flat, np.arange(5, 17))
    assert np.shares_memory(flat, buffer)
    flat[0] = -1.0
    assert buffer[5] == -1.0 and buffer[4] == 4.0


@pytest.mark.parametrize("bad", [np.ones(3), (np.ones(3), 1.0), 5, None])
def test_end_to_end_refuses_what_is_not_a_list_of_ndarrays(bad):
    with pytest.raises(TypeError, match="end_to_end arrays"):
        end_to_end(bad)


def test_end_to_end_refuses_a_non_array_entry():
    with pytest.raises(TypeError, match=r"end_to_end arrays\[1\]"):
        end_to_end([np.ones(2), [1.0, 2.0]])


# ---------------------------------------------------------------------------------------- split_into

def test_split_into_cuts_views_in_order():
    buffer = np.arange(7, dtype=np.float32)
    a, b, c = split_into(buffer, [(2, 2), (0,), (3,)])
    assert a.shape == (2, 2) and b.shape == (0,) and c.shape == (3,)
    assert a.tolist() == [[0, 1], [2, 3]] and c.tolist() == [4, 5, 6]
    c[0] = 40                                  # views, not copies
    assert buffer[4] == 40
    assert end_to_end([a, b, c]).tolist() == buffer.tolist()
    assert split_into(np.zeros(1), [()])[0].shape == ()


@pytest.mark.parametrize("buffer, shapes, error, words", [
    (np.zeros((2, 2)), [(4,)], TypeError, "split_into buffer"),
    ([0.0, 1.0], [(2,)], TypeError, "split_into buffer"),
    (np.zeros(4), 4, TypeError, "split_into shapes"),
    (np.zeros(4), [("a",)], TypeError, "split_into shapes"),
    (np.zeros(4), [(3,)], ValueError, "split_into shapes"),
    (np.zeros(4), [(5,), (-1,)], ValueError, "split_into shapes"),
])
def test_split_into_refuses_what_does_not_fit(buffer, shapes, error, words):
    with pytest.raises(error, match=words):
        split_into(buffer, shapes)
