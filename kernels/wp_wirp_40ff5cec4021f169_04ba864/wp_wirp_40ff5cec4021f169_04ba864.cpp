#define WP_NO_BFLOAT16

#define WP_TILE_BLOCK_DIM 1
#define WP_NO_CRT
#include "builtin.h"
#include "deterministic.h"

#define builtin_tid1d() wp::linear_tid<wp_linear_tid>(task_index, dim)
#define builtin_tid2d(x, y) wp::tid(x, y, task_index, dim)
#define builtin_tid3d(x, y, z) wp::tid(x, y, z, task_index, dim)
#define builtin_tid4d(x, y, z, w) wp::tid(x, y, z, w, task_index, dim)

#define builtin_block_dim() wp::block_dim()


// avoid namespacing of float type for casting to float type, this is to avoid wp::float(x), which is not valid in C++
#define float(x) cast_float(x)
#define adj_float(x, adj_x, adj_ret) adj_cast_float(x, adj_x, adj_ret)

#define int(x) cast_int(x)
#define adj_int(x, adj_x, adj_ret) adj_cast_int(x, adj_x, adj_ret)

struct wp_args_tile_map_max_sub_map_floor_c1537dea {
    wp::array_t<wp::float32> c;
    wp::array_t<wp::float32> y;
    wp::float32 alpha;
    wp::array_t<wp::float32> out;
};


template <bool wp_linear_contiguous>
static void tile_map_max_sub_map_floor_c1537dea_cpu_kernel_forward(
    wp::launch_bounds_t<1> dim,
    size_t task_index,
    wp_args_tile_map_max_sub_map_floor_c1537dea *_wp_args)
{
    static constexpr bool wp_linear_tid = wp_linear_contiguous;

    //---------
    // argument vars
    wp::array_t<wp::float32> var_c = _wp_args->c;
    wp::array_t<wp::float32> var_y = _wp_args->y;
    wp::float32 var_alpha = _wp_args->alpha;
    wp::array_t<wp::float32> var_out = _wp_args->out;
    //---------
    // primal vars
    wp::int32 var_0;
    wp::array_t<wp::float32> var_1;
    const wp::int32 var_2 = 8;
    wp::tile_register_t<wp::float32,wp::tile_layout_register_t<wp::tile_shape_t<8>>> var_3 = wp::tile_register_t<wp::float32,wp::tile_layout_register_t<wp::tile_shape_t<8>>>{};
    const wp::int32 var_4 = 0;
    wp::array_t<wp::float32> var_5;
    const wp::int32 var_6 = 8;
    wp::tile_register_t<wp::float32,wp::tile_layout_register_t<wp::tile_shape_t<8>>> var_7 = wp::tile_register_t<wp::float32,wp::tile_layout_register_t<wp::tile_shape_t<8>>>{};
    const wp::int32 var_8 = 0;
    wp::float32 var_9;
    wp::tile_register_t<wp::float32,wp::tile_layout_register_t<wp::tile_shape_t<1>>> var_10 = wp::tile_register_t<wp::float32,wp::tile_layout_register_t<wp::tile_shape_t<1>>>{};
    wp::tile_shared_t<wp::float32,wp::tile_layout_strided_t<wp::tile_shape_t<1>, wp::tile_stride_t<1>>, true> var_11 = wp::tile_alloc_empty<wp::float32,wp::tile_shape_t<1>,wp::tile_stride_t<1>,false>();
    const wp::int32 var_12 = 0;
    wp::float32 var_13;
    wp::int32 var_14;
    wp::float32 var_15;
    wp::float32 var_16;
    wp::array_t<wp::float32> var_17;
    wp::tile_register_t<wp::float32,wp::tile_layout_register_t<wp::tile_shape_t<8>>> var_18 = wp::tile_register_t<wp::float32,wp::tile_layout_register_t<wp::tile_shape_t<8>>>{};
    wp::tile_register_t<wp::float32,wp::tile_layout_register_t<wp::tile_shape_t<8>>> var_19 = wp::tile_register_t<wp::float32,wp::tile_layout_register_t<wp::tile_shape_t<8>>>{};
    wp::tile_register_t<wp::float32,wp::tile_layout_register_t<wp::tile_shape_t<8>>> var_20 = wp::tile_register_t<wp::float32,wp::tile_layout_register_t<wp::tile_shape_t<8>>>{};
    const wp::int32 var_21 = 8;
    wp::tile_register_t<wp::float32,wp::tile_layout_register_t<wp::tile_shape_t<8>>> var_22 = wp::tile_register_t<wp::float32,wp::tile_layout_register_t<wp::tile_shape_t<8>>>{};
    wp::tile_register_t<wp::float32,wp::tile_layout_register_t<wp::tile_shape_t<8>>> var_23 = wp::tile_register_t<wp::float32,wp::tile_layout_register_t<wp::tile_shape_t<8>>>{};
    const wp::int32 var_24 = 0;
    //---------
    // forward
    // def tile_map_max_sub_map_floor(c: wp.array2d(dtype=float), y: wp.array2d(dtype=float), alpha: float, out: wp.array2d(dtype=float)):       <L 5>
    // i = wp.tid()                                                                           <L 6>
    var_0 = builtin_tid1d();
    // t0 = wp.tile_load(c[i], shape=8)                                                       <L 7>
    var_1 = wp::view(var_c, var_0);
    var_3 = wp::tile_load<wp::float32, true, false, 8>(var_1, var_4);
    // t1 = wp.tile_load(y[i], shape=8)                                                       <L 8>
    var_5 = wp::view(var_y, var_0);
    var_7 = wp::tile_load<wp::float32, true, false, 8>(var_5, var_8);
    // t2 = (wp.tile_extract(wp.tile_sum(wp.tile(wp.float32(alpha))), 0) / float(wp.block_dim()))       <L 9>
    var_9 = wp::float32(var_alpha);
    var_10 = wp::tile<wp::float32>(var_9);
    var_11 = wp::tile_sum(var_10);
    var_13 = wp::tile_extract(var_11, var_12);
    var_14 = builtin_block_dim();
    var_15 = wp::float(var_14);
    var_16 = wp::div(var_13, var_15);
    // wp.tile_store(out[i], wp.tile_map(wp.max, (wp.tile_map(wp.floor, wp.tile_scan_max_inclusive(t0)) - t1), wp.tile_full(shape=8, value=t2, dtype=float)))       <L 10>
    var_17 = wp::view(var_out, var_0);
    var_18 = wp::tile_scan_max_inclusive(var_3);
    var_19 = wp::tile_unary_map(wp::floor, var_18);
    var_20 = wp::tile_sub(var_19, var_7);
    var_22 = wp::tile_full<wp::float32, 8>(var_16);
    var_23 = wp::tile_binary_map(wp::max, var_20, var_22);
    wp::tile_store<wp::float32, true, false>(var_17, var_24, var_23);
}



template <bool wp_linear_contiguous>
static void tile_map_max_sub_map_floor_c1537dea_cpu_kernel_backward(
    wp::launch_bounds_t<1> dim,
    size_t task_index,
    wp_args_tile_map_max_sub_map_floor_c1537dea *_wp_args,
    wp_args_tile_map_max_sub_map_floor_c1537dea *_wp_adj_args)
{
    static constexpr bool wp_linear_tid = wp_linear_contiguous;

    //---------
    // argument vars
    wp::array_t<wp::float32> var_c = _wp_args->c;
    wp::array_t<wp::float32> var_y = _wp_args->y;
    wp::float32 var_alpha = _wp_args->alpha;
    wp::array_t<wp::float32> var_out = _wp_args->out;
    wp::array_t<wp::float32> adj_c = _wp_adj_args->c;
    wp::array_t<wp::float32> adj_y = _wp_adj_args->y;
    wp::float32 adj_alpha = _wp_adj_args->alpha;
    wp::array_t<wp::float32> adj_out = _wp_adj_args->out;
    //---------
    // primal vars
    wp::int32 var_0;
    wp::array_t<wp::float32> var_1;
    const wp::int32 var_2 = 8;
    wp::tile_register_t<wp::float32,wp::tile_layout_register_t<wp::tile_shape_t<8>>> var_3 = wp::tile_register_t<wp::float32,wp::tile_layout_register_t<wp::tile_shape_t<8>>>{};
    const wp::int32 var_4 = 0;
    wp::array_t<wp::float32> var_5;
    const wp::int32 var_6 = 8;
    wp::tile_register_t<wp::float32,wp::tile_layout_register_t<wp::tile_shape_t<8>>> var_7 = wp::tile_register_t<wp::float32,wp::tile_layout_register_t<wp::tile_shape_t<8>>>{};
    const wp::int32 var_8 = 0;
    wp::float32 var_9;
    wp::tile_register_t<wp::float32,wp::tile_layout_register_t<wp::tile_shape_t<1>>> var_10 = wp::tile_register_t<wp::float32,wp::tile_layout_register_t<wp::tile_shape_t<1>>>{};
    wp::tile_shared_t<wp::float32,wp::tile_layout_strided_t<wp::tile_shape_t<1>, wp::tile_stride_t<1>>, true> var_11 = wp::tile_alloc_empty<wp::float32,wp::tile_shape_t<1>,wp::tile_stride_t<1>,true>();
    const wp::int32 var_12 = 0;
    wp::float32 var_13;
    wp::int32 var_14;
    wp::float32 var_15;
    wp::float32 var_16;
    wp::array_t<wp::float32> var_17;
    wp::tile_register_t<wp::float32,wp::tile_layout_register_t<wp::tile_shape_t<8>>> var_18 = wp::tile_register_t<wp::float32,wp::tile_layout_register_t<wp::tile_shape_t<8>>>{};
    wp::tile_register_t<wp::float32,wp::tile_layout_register_t<wp::tile_shape_t<8>>> var_19 = wp::tile_register_t<wp::float32,wp::tile_layout_register_t<wp::tile_shape_t<8>>>{};
    wp::tile_register_t<wp::float32,wp::tile_layout_register_t<wp::tile_shape_t<8>>> var_20 = wp::tile_register_t<wp::float32,wp::tile_layout_register_t<wp::tile_shape_t<8>>>{};
    const wp::int32 var_21 = 8;
    wp::tile_register_t<wp::float32,wp::tile_layout_register_t<wp::tile_shape_t<8>>> var_22 = wp::tile_register_t<wp::float32,wp::tile_layout_register_t<wp::tile_shape_t<8>>>{};
    wp::tile_register_t<wp::float32,wp::tile_layout_register_t<wp::tile_shape_t<8>>> var_23 = wp::tile_register_t<wp::float32,wp::tile_layout_register_t<wp::tile_shape_t<8>>>{};
    const wp::int32 var_24 = 0;
    //---------
    // dual vars
    wp::int32 adj_0 = {};
    wp::array_t<wp::float32> adj_1 = {};
    wp::int32 adj_2 = {};
    wp::tile_register_t<wp::float32,wp::tile_layout_register_t<wp::tile_shape_t<8>>> adj_3{};
    wp::int32 adj_4 = {};
    wp::array_t<wp::float32> adj_5 = {};
    wp::int32 adj_6 = {};
    wp::tile_register_t<wp::float32,wp::tile_layout_register_t<wp::tile_shape_t<8>>> adj_7{};
    wp::int32 adj_8 = {};
    wp::float32 adj_9 = {};
    wp::tile_register_t<wp::float32,wp::tile_layout_register_t<wp::tile_shape_t<1>>> adj_10{};
    wp::tile_shared_t<wp::float32,wp::tile_layout_strided_t<wp::tile_shape_t<1>, wp::tile_stride_t<1>>, true>& adj_11 = var_11;
    wp::int32 adj_12 = {};
    wp::float32 adj_13 = {};
    wp::int32 adj_14 = {};
    wp::float32 adj_15 = {};
    wp::float32 adj_16 = {};
    wp::array_t<wp::float32> adj_17 = {};
    wp::tile_register_t<wp::float32,wp::tile_layout_register_t<wp::tile_shape_t<8>>> adj_18{};
    wp::tile_register_t<wp::float32,wp::tile_layout_register_t<wp::tile_shape_t<8>>> adj_19{};
    wp::tile_register_t<wp::float32,wp::tile_layout_register_t<wp::tile_shape_t<8>>> adj_20{};
    wp::int32 adj_21 = {};
    wp::tile_register_t<wp::float32,wp::tile_layout_register_t<wp::tile_shape_t<8>>> adj_22{};
    wp::tile_register_t<wp::float32,wp::tile_layout_register_t<wp::tile_shape_t<8>>> adj_23{};
    wp::int32 adj_24 = {};
    //---------
    // forward
    // def tile_map_max_sub_map_floor(c: wp.array2d(dtype=float), y: wp.array2d(dtype=float), alpha: float, out: wp.array2d(dtype=float)):       <L 5>
    // i = wp.tid()                                                                           <L 6>
    var_0 = builtin_tid1d();
    // t0 = wp.tile_load(c[i], shape=8)                                                       <L 7>
    var_1 = wp::view(var_c, var_0);
    var_3 = wp::tile_load<wp::float32, true, false, 8>(var_1, var_4);
    // t1 = wp.tile_load(y[i], shape=8)                                                       <L 8>
    var_5 = wp::view(var_y, var_0);
    var_7 = wp::tile_load<wp::float32, true, false, 8>(var_5, var_8);
    // t2 = (wp.tile_extract(wp.tile_sum(wp.tile(wp.float32(alpha))), 0) / float(wp.block_dim()))       <L 9>
    var_9 = wp::float32(var_alpha);
    var_10 = wp::tile<wp::float32>(var_9);
    var_11 = wp::tile_sum(var_10);
    var_13 = wp::tile_extract(var_11, var_12);
    var_14 = builtin_block_dim();
    var_15 = wp::float(var_14);
    var_16 = wp::div(var_13, var_15);
    // wp.tile_store(out[i], wp.tile_map(wp.max, (wp.tile_map(wp.floor, wp.tile_scan_max_inclusive(t0)) - t1), wp.tile_full(shape=8, value=t2, dtype=float)))       <L 10>
    var_17 = wp::view(var_out, var_0);
    var_18 = wp::tile_scan_max_inclusive(var_3);
    var_19 = wp::tile_unary_map(wp::floor, var_18);
    var_20 = wp::tile_sub(var_19, var_7);
    var_22 = wp::tile_full<wp::float32, 8>(var_16);
    var_23 = wp::tile_binary_map(wp::max, var_20, var_22);
    // wp::tile_store<wp::float32, true, false>(var_17, var_24, var_23);
    //---------
    // reverse
    wp::adj_tile_store(var_17, var_24, var_23, adj_17, adj_24, adj_23);
    wp::adj_tile_binary_map(wp::max, var_20, var_22, wp::adj_max, adj_20, adj_22, adj_23);
    wp::adj_tile_sub(var_19, var_7, adj_19, adj_7, adj_20);
    wp::adj_view(var_out, var_0, adj_out, adj_0, adj_17);
    // adj: wp.tile_store(out[i], wp.tile_map(wp.max, (wp.tile_map(wp.floor, wp.tile_scan_max_inclusive(t0)) - t1), wp.tile_full(shape=8, value=t2, dtype=float)))  <L 10>
    wp::adj_div(var_13, var_15, var_16, adj_13, adj_15, adj_16);
    wp::adj_float(var_14, adj_14, adj_15);
    wp::adj_tile_extract(var_11, var_12, adj_11, adj_12, adj_13);
    wp::adj_tile_sum(var_10, adj_10, adj_11);
    wp::adj_tile(var_9, adj_9, adj_10);
    wp::adj_float32(var_alpha, adj_alpha, adj_9);
    // adj: t2 = (wp.tile_extract(wp.tile_sum(wp.tile(wp.float32(alpha))), 0) / float(wp.block_dim()))  <L 9>
    wp::adj_tile_load(var_5, var_8, adj_5, adj_8, adj_7);
    wp::adj_view(var_y, var_0, adj_y, adj_0, adj_5);
    // adj: t1 = wp.tile_load(y[i], shape=8)                                                  <L 8>
    wp::adj_tile_load(var_1, var_4, adj_1, adj_4, adj_3);
    wp::adj_view(var_c, var_0, adj_c, adj_0, adj_1);
    // adj: t0 = wp.tile_load(c[i], shape=8)                                                  <L 7>
    // adj: i = wp.tid()                                                                      <L 6>
    // adj: def tile_map_max_sub_map_floor(c: wp.array2d(dtype=float), y: wp.array2d(dtype=float), alpha: float, out: wp.array2d(dtype=float)):  <L 5>
    return;
}



template <bool wp_linear_contiguous>
static WP_FORCEINLINE void tile_map_max_sub_map_floor_c1537dea_cpu_forward_tasks(
    wp::launch_bounds_t<1> *dim,
    wp_args_tile_map_max_sub_map_floor_c1537dea *_wp_args)
{
    for (size_t task_index = 0; task_index < dim->size; ++task_index)
    {
        tile_map_max_sub_map_floor_c1537dea_cpu_kernel_forward<wp_linear_contiguous>(*dim, task_index, _wp_args);
    }
}

static WP_FORCEINLINE void tile_map_max_sub_map_floor_c1537dea_cpu_forward_dispatch(
    wp::launch_bounds_t<1> *dim,
    wp_args_tile_map_max_sub_map_floor_c1537dea *_wp_args)
{
    wp::tile_shared_storage_t tile_mem;
#if defined(WP_ENABLE_TILES_IN_STACK_MEMORY)
    wp::shared_tile_storage = &tile_mem;
#endif

    tile_map_max_sub_map_floor_c1537dea_cpu_forward_tasks<false>(dim, _wp_args);
}

extern "C" {

// Python CPU entry points
WP_API void tile_map_max_sub_map_floor_c1537dea_cpu_forward(
    wp::launch_bounds_t<1> *dim,
    wp_args_tile_map_max_sub_map_floor_c1537dea *_wp_args)
{
    tile_map_max_sub_map_floor_c1537dea_cpu_forward_dispatch(dim, _wp_args);
}

} // extern C



template <bool wp_linear_contiguous>
static WP_FORCEINLINE void tile_map_max_sub_map_floor_c1537dea_cpu_backward_tasks(
    wp::launch_bounds_t<1> *dim,
    wp_args_tile_map_max_sub_map_floor_c1537dea *_wp_args,
    wp_args_tile_map_max_sub_map_floor_c1537dea *_wp_adj_args)
{
    for (size_t task_index = 0; task_index < dim->size; ++task_index)
    {
        tile_map_max_sub_map_floor_c1537dea_cpu_kernel_backward<wp_linear_contiguous>(
            *dim, task_index, _wp_args, _wp_adj_args);
    }
}

static WP_FORCEINLINE void tile_map_max_sub_map_floor_c1537dea_cpu_backward_dispatch(
    wp::launch_bounds_t<1> *dim,
    wp_args_tile_map_max_sub_map_floor_c1537dea *_wp_args,
    wp_args_tile_map_max_sub_map_floor_c1537dea *_wp_adj_args)
{
    wp::tile_shared_storage_t tile_mem;
#if defined(WP_ENABLE_TILES_IN_STACK_MEMORY)
    wp::shared_tile_storage = &tile_mem;
#endif

    tile_map_max_sub_map_floor_c1537dea_cpu_backward_tasks<false>(dim, _wp_args, _wp_adj_args);
}

extern "C" {

WP_API void tile_map_max_sub_map_floor_c1537dea_cpu_backward(
    wp::launch_bounds_t<1> *dim,
    wp_args_tile_map_max_sub_map_floor_c1537dea *_wp_args,
    wp_args_tile_map_max_sub_map_floor_c1537dea *_wp_adj_args)
{
    tile_map_max_sub_map_floor_c1537dea_cpu_backward_dispatch(dim, _wp_args, _wp_adj_args);
}

} // extern C

