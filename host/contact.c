/* contact: see contact.h. */
#include "contact.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "face_set.h"

#include "kernel_sources.h"
#include "runtime.h"

enum { LOCAL_SIZE = 64, TERMS = 8, MOTION = 4, RATES = 3, PAD = 16 };
/* per needle from face_tip_forces: the force on the needle (3), penetration, penalty energy */
enum { TIP_VALUES = 5 };

struct pp_contact {
  pp_clrt *clrt;
  pp_reduce *reduce;
  MPI_Comm comm;
  size_t owned, stride; /* stride: one needle's block of terms (owned padded to PAD nodes) x TERMS */
  int needles;
  cl_kernel kernel;
  cl_mem reference, stiffness, params, motion, force, terms, rates, penetration, ones;
  cl_mem *needle_terms; /* [needles]: sub-buffers of terms, one needle's block each */
  double penalty_energy, friction_dissipated, needle_work;
  double stiffness_work, penalty_before; /* pp_contact_energy; the penalty energy before a new stiffness */
  int restiffened;                       /* a new stiffness awaits its first evaluation */
  double start_penalty, start_friction, start_work; /* at the last step's start */
  /* the tips against the surface faces (kernels/contact.cl) */
  pp_face_set faces;
  cl_kernel candidates_kernel, tip_kernel, gather_kernel;
  cl_mem face_reference, face_nodes, face_offsets, face_entries, face_candidates, face_force, face_owned, chosen, face_element,
    face_stiffness, tip_force;
  double *candidates; /* host [faces * needles * 2]: penetration, held (kernels/contact.cl) */
  int *chosen_host;   /* [needles]: the local face each tip presses, -1 none (or not here) */
  long long *choice, *previous_choice; /* [needles]: 2 key + held (held: the node pass holds the face,
                                          no tip force), LLONG_MAX for none; global */
  double *tip;        /* [needles * TIP_VALUES], global */
  double *tip_before; /* the previous evaluation's */
  long long handoffs, start_handoffs; /* tip hand-offs so far, and at the last step's start */
  double *params_host, *velocity_host; /* the needles as last set */
};

static pp_err buffer(pp_contact *c, size_t bytes, const char *what, cl_mem *out)
{
  PP_CALL(pp_clrt_buffer(c->clrt, CL_MEM_READ_WRITE, bytes ? bytes : 1, what, out));
  return PP_OK;
}

/* kernels/needle_shape.cl in front of kernels/contact.cl, so both use the same geometry. */
static pp_err build(pp_contact *c)
{
  const pp_kernel_source *shape = pp_kernel_source_find("needle_shape"), *source = pp_kernel_source_find("contact");
  PP_CHECK(shape && source, PP_ERR_ARGUMENT, "contact: no embedded OpenCL source 'needle_shape' or 'contact'");
  const size_t length = shape->length + 1 + source->length;
  char *text = malloc(length + 1), file[256];
  PP_CHECK(text, PP_ERR_MEMORY, "out of memory for the contact kernel source");
  memcpy(text, shape->text, shape->length);
  text[shape->length] = '\n';
  memcpy(text + shape->length + 1, source->text, source->length + 1);
  snprintf(file, sizeof file, "%s (behind %s)", source->file, shape->file);
  pp_kernel_source combined = {source->name, file, text, length};
  cl_program program = NULL;
  pp_err err = pp_clrt_build_text(c->clrt, &combined, NULL, &program);
  free(text);
  PP_CALL(err);
  cl_int status = CL_SUCCESS;
  c->kernel = clCreateKernel(program, "needle_contact", &status);
  PP_CL(status, "creating kernel 'needle_contact'");
  c->candidates_kernel = clCreateKernel(program, "face_candidates", &status);
  PP_CL(status, "creating kernel 'face_candidates'");
  c->tip_kernel = clCreateKernel(program, "face_tip_forces", &status);
  PP_CL(status, "creating kernel 'face_tip_forces'");
  c->gather_kernel = clCreateKernel(program, "gather_face_forces", &status);
  PP_CL(status, "creating kernel 'gather_face_forces'");
  return PP_OK;
}

/* The skin's outer surface: the upper face of every local element whose four upper corners are
 * surface nodes. */
static pp_err set_up_faces(pp_contact *c, const pp_mesh *mesh)
{
  const size_t E = (size_t)mesh->element_count, K = (size_t)c->needles, rs = (size_t)pp_clrt_real_size(c->clrt);
  unsigned char *mask = calloc(E + 1, 1);
  PP_CHECK(mask, PP_ERR_MEMORY, "out of memory for the contact faces");
  for (size_t e = 0; e < E; ++e) {
    int surface = 1;
    for (int a = 0; a < 4; ++a)
      surface &= (mesh->node_boundary[mesh->element_nodes[8 * e + (size_t)pp_hex_face_corners[1][a]]] & PP_NODE_SURFACE) != 0;
    mask[e] = (unsigned char)(surface << 1);
  }
  pp_err err = pp_face_set_build(mesh, mask, &c->faces);
  free(mask);
  PP_CALL(err);
  const size_t F = c->faces.count;
  c->candidates = malloc((2 * F * K + 1) * sizeof *c->candidates);
  c->chosen_host = malloc((K + 1) * sizeof *c->chosen_host);
  c->choice = malloc((K + 1) * sizeof *c->choice);
  c->previous_choice = malloc((K + 1) * sizeof *c->previous_choice);
  c->tip = calloc(K * TIP_VALUES + 1, sizeof *c->tip);
  c->tip_before = calloc(K * TIP_VALUES + 1, sizeof *c->tip_before);
  c->params_host = calloc(K * PP_CONTACT_SHAPE_PARAMS + 1, sizeof *c->params_host);
  c->velocity_host = calloc(K * 3 + 1, sizeof *c->velocity_host);
  int *owned = malloc((F + 1) * sizeof *owned);
  if (!(c->candidates && c->chosen_host && c->choice && c->previous_choice && c->tip &&
        c->tip_before && c->params_host && c->velocity_host && owned)) {
    free(owned);
    PP_RAISE(PP_ERR_MEMORY, "out of memory for the contact faces");
  }
  for (size_t f = 0; f < F; ++f) owned[f] = c->faces.element[f] < mesh->owned_element_count;
  err = buffer(c, F * 12 * rs, "contact face corners", &c->face_reference);
  if (err == PP_OK) err = buffer(c, F * 4 * sizeof(int), "contact face nodes", &c->face_nodes);
  if (err == PP_OK) err = buffer(c, (c->owned + 1) * sizeof(int), "contact face offsets", &c->face_offsets);
  if (err == PP_OK) err = buffer(c, F * 4 * sizeof(int), "contact face entries", &c->face_entries);
  if (err == PP_OK) err = buffer(c, 2 * F * K * rs, "contact face candidates", &c->face_candidates);
  if (err == PP_OK) err = buffer(c, F * 12 * rs, "contact face forces", &c->face_force);
  if (err == PP_OK) err = buffer(c, F * sizeof(int), "contact face owners", &c->face_owned);
  if (err == PP_OK) err = buffer(c, F * sizeof(int), "contact face elements", &c->face_element);
  if (err == PP_OK && F)
    err = pp_clrt_write(c->clrt, c->face_element, 0, F * sizeof(int), c->faces.element, "contact face elements");
  if (err == PP_OK) err = buffer(c, K * sizeof(int), "contact chosen faces", &c->chosen);
  if (err == PP_OK) err = buffer(c, F * rs, "contact face stiffness", &c->face_stiffness);
  if (err == PP_OK) err = buffer(c, K * TIP_VALUES * rs, "contact tip forces", &c->tip_force);
  for (size_t i = 0; i < K; ++i) {
    c->chosen_host[i] = -1;
    c->choice[i] = c->previous_choice[i] = LLONG_MAX;
  }
  if (err == PP_OK) err = pp_clrt_write_reals(c->clrt, c->face_reference, c->faces.reference, F * 12, "contact face corners");
  if (err == PP_OK && F) err = pp_clrt_write(c->clrt, c->face_nodes, 0, F * 4 * sizeof(int), c->faces.nodes, "contact face nodes");
  if (err == PP_OK)
    err = pp_clrt_write(c->clrt, c->face_offsets, 0, (c->owned + 1) * sizeof(int), c->faces.offset, "contact face offsets");
  if (err == PP_OK && F)
    err = pp_clrt_write(c->clrt, c->face_entries, 0, F * 4 * sizeof(int), c->faces.entry, "contact face entries");
  if (err == PP_OK && F) err = pp_clrt_write(c->clrt, c->face_owned, 0, F * sizeof(int), owned, "contact face owners");
  free(owned);
  return err;
}

static pp_err set_up(pp_contact *c, const pp_mesh *mesh)
{
  const size_t rs = (size_t)pp_clrt_real_size(c->clrt), N = c->owned, K = (size_t)c->needles;
  c->stride = ((N ? N : 1) + PAD - 1) / PAD * PAD * TERMS; /* a rank without nodes still gets views */
  PP_CALL(build(c));
  PP_CALL(buffer(c, N * 3 * rs, "contact reference coordinates", &c->reference));
  PP_CALL(buffer(c, N * rs, "contact stiffness", &c->stiffness));
  PP_CALL(buffer(c, K * PP_CONTACT_SHAPE_PARAMS * rs, "needle shapes", &c->params));
  PP_CALL(buffer(c, K * MOTION * rs, "needle motion", &c->motion));
  PP_CALL(buffer(c, N * 3 * rs, "contact forces", &c->force));
  PP_CALL(buffer(c, K * c->stride * rs, "contact terms per needle", &c->terms));
  PP_CALL(buffer(c, N * RATES * rs, "contact energy terms", &c->rates));
  PP_CALL(buffer(c, N * rs, "contact penetration", &c->penetration));
  PP_CALL(buffer(c, N * TERMS * rs, "contact ones", &c->ones));
  c->needle_terms = calloc(K + 1, sizeof *c->needle_terms);
  PP_CHECK(c->needle_terms, PP_ERR_MEMORY, "out of memory for the needle term views");
  /* one sub-buffer per needle: its block starts at a multiple of PAD * TERMS REALs, 1 KiB in
     double, at least any device's base-address alignment (OpenCL requires <= 1024 bits here) */
  for (size_t i = 0; i < K; ++i) {
    cl_buffer_region region = {i * c->stride * rs, N > 0 ? N * TERMS * rs : rs};
    cl_int status = CL_SUCCESS;
    c->needle_terms[i] = clCreateSubBuffer(c->terms, CL_MEM_READ_WRITE, CL_BUFFER_CREATE_TYPE_REGION, &region, &status);
    PP_CL(status, "creating a needle's view of the contact terms");
  }
  double *host = malloc((N * TERMS + K * (PP_CONTACT_SHAPE_PARAMS + MOTION) + 1) * sizeof *host);
  PP_CHECK(host, PP_ERR_MEMORY, "out of memory setting up contact");
  pp_err err = pp_clrt_write_reals(c->clrt, c->reference, mesh->node_coords, N * 3, "contact reference coordinates");
  for (size_t i = 0; i < N * TERMS; ++i) host[i] = 1;
  if (err == PP_OK) err = pp_clrt_write_reals(c->clrt, c->ones, host, N * TERMS, "contact ones");
  memset(host, 0, (N * 3 + 1) * sizeof *host);
  if (err == PP_OK) err = pp_clrt_write_reals(c->clrt, c->force, host, N * 3, "contact forces");
  if (err == PP_OK) err = pp_clrt_write_reals(c->clrt, c->stiffness, host, N, "contact stiffness");
  /* until set_needles: needles far away (a tip radius of 0 at infinity would be NaN: a huge
     distance instead) */
  for (size_t i = 0; i < K * PP_CONTACT_SHAPE_PARAMS; ++i) host[i] = 0;
  for (size_t i = 0; i < K; ++i) {
    double *p = host + i * PP_CONTACT_SHAPE_PARAMS;
    p[2] = 1e3; /* tip 1 km above the skin */
    p[5] = 1;
    p[7] = 1;
    p[9] = 1e-6;
    p[10] = 1e-3;
  }
  if (err == PP_OK) err = pp_clrt_write_reals(c->clrt, c->params, host, K * PP_CONTACT_SHAPE_PARAMS, "needle shapes");
  memset(host, 0, (K * MOTION + 1) * sizeof *host);
  if (err == PP_OK) err = pp_clrt_write_reals(c->clrt, c->motion, host, K * MOTION, "needle motion");
  free(host);
  /* zero terms: the first evaluation's "force before" for the needle work's trapezoidal rule */
  double *zero = calloc(K * c->stride + 1, sizeof *zero);
  if (err == PP_OK && !zero) err = pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory");
  if (err == PP_OK) err = pp_clrt_write_reals(c->clrt, c->terms, zero, K * c->stride, "contact terms per needle");
  free(zero);
  if (err == PP_OK) err = set_up_faces(c, mesh);
  return err;
}

pp_err pp_contact_create(pp_contact **contact, const pp_mesh *mesh, pp_clrt *clrt, pp_reduce *reduce, MPI_Comm comm,
                         int needle_count)
{
  *contact = NULL;
  PP_CHECK(needle_count >= 1, PP_ERR_ARGUMENT, "contact: %d needles (at least 1)", needle_count);
  pp_contact *c = calloc(1, sizeof *c);
  PP_CHECK(c, PP_ERR_MEMORY, "out of memory creating the contact state");
  c->clrt = clrt;
  c->reduce = reduce;
  c->comm = comm;
  c->owned = (size_t)mesh->owned_node_count;
  c->needles = needle_count;
  pp_err err = pp_comm_agree(comm, set_up(c, mesh), "contact set-up");
  if (err != PP_OK) {
    pp_contact_destroy(c);
    return err;
  }
  *contact = c;
  return PP_OK;
}

void pp_contact_destroy(pp_contact *c)
{
  if (!c) return;
  if (c->needle_terms)
    for (int i = 0; i < c->needles; ++i)
      if (c->needle_terms[i]) clReleaseMemObject(c->needle_terms[i]);
  free(c->needle_terms);
  cl_mem buffers[] = {c->reference, c->stiffness, c->params,      c->motion, c->force,
                      c->terms,     c->rates,     c->penetration, c->ones};
  for (size_t i = 0; i < sizeof buffers / sizeof *buffers; ++i)
    if (buffers[i]) clReleaseMemObject(buffers[i]);
  cl_mem face_buffers[] = {c->face_reference, c->face_nodes, c->face_offsets, c->face_entries, c->face_candidates,
                           c->face_force,     c->face_owned, c->chosen,       c->face_stiffness, c->tip_force,
                           c->face_element};
  for (size_t i = 0; i < sizeof face_buffers / sizeof *face_buffers; ++i)
    if (face_buffers[i]) clReleaseMemObject(face_buffers[i]);
  cl_kernel kernels[] = {c->kernel, c->candidates_kernel, c->tip_kernel, c->gather_kernel};
  for (size_t i = 0; i < sizeof kernels / sizeof *kernels; ++i)
    if (kernels[i]) clReleaseKernel(kernels[i]);
  pp_face_set_free(&c->faces);
  free(c->candidates);
  free(c->chosen_host);
  free(c->choice);
  free(c->previous_choice);
  free(c->tip);
  free(c->tip_before);
  free(c->params_host);
  free(c->velocity_host);
  free(c);
}

int pp_contact_needle_count(const pp_contact *c) { return c->needles; }
cl_mem pp_contact_force_buffer(const pp_contact *c) { return c->force; }

pp_err pp_contact_set_stiffness(pp_contact *c, const double *stiffness, const double *face_stiffness)
{
  c->penalty_before = c->penalty_energy;
  c->restiffened = 1;
  pp_err err = pp_clrt_write_reals(c->clrt, c->stiffness, stiffness, c->owned, "contact stiffness");
  if (err == PP_OK)
    err = pp_clrt_write_reals(c->clrt, c->face_stiffness, face_stiffness, c->faces.count, "contact face stiffness");
  return pp_comm_agree(c->comm, err, "contact stiffness");
}

size_t pp_contact_face_count(const pp_contact *c) { return c->faces.count; }
const int *pp_contact_face_elements(const pp_contact *c) { return c->faces.element; }

static pp_err set_args(cl_kernel kernel, const char *name, int count, const size_t *sizes, const void **values)
{
  for (int i = 0; i < count; ++i) {
    cl_int status = clSetKernelArg(kernel, (cl_uint)i, sizes[i], values[i]);
    if (status != CL_SUCCESS)
      return pp_error_raise(PP_ERR_OPENCL, __FILE__, __LINE__, __func__, "setting argument %d of %s: %s (%d)", i, name,
                            pp_cl_error_name(status), (int)status);
  }
  return PP_OK;
}

static long long fmin_ll(long long a, long long b) { return a < b ? a : b; }

/* How far the tip sphere's centre is from a face it penetrates by p (the sphere's radius R):
 * |R - p| (p = R - s, s the signed distance of the centre from the patch); INFINITY for none. */
static double candidate_distance(double penetration, double radius)
{
  return penetration > 0 ? fabs(radius - penetration) : INFINITY;
}

/* Which face each needle's tip presses: of the faces its tip sphere penetrates, the one whose
 * patch is nearest the sphere's centre over all ranks (the skin's surface nearest the tip, as a
 * closest-point projection would choose, whether the centre is above the surface or below it; the
 * deepest one jumped to a steep triangle of a dented face 10 times deeper, a force spike that put
 * 40 % more energy into the skin than the needle had done: the contact energy balance found it),
 * ties to the smallest (global element, face) key, so every rank makes the same choice; none when
 * the node pass holds that face. */
static pp_err choose_faces(pp_contact *c)
{
  const size_t F = c->faces.count, K = (size_t)c->needles;
  pp_err local = F ? pp_clrt_read_reals(c->clrt, c->face_candidates, c->candidates, 2 * F * K,
                                        "contact face candidates")
                   : PP_OK;
  PP_CALL(pp_comm_agree(c->comm, local, "reading the contact face candidates"));
  double nearest[64], *best = K <= 64 ? nearest : malloc(K * sizeof *best);
  local = pp_comm_agree(c->comm, best ? PP_OK : pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory"),
                        "contact face choice");
  if (local != PP_OK) {
    if (best != nearest) free(best);
    return local;
  }
  for (size_t i = 0; i < K; ++i) {
    const double radius = c->params_host[i * PP_CONTACT_SHAPE_PARAMS + 6];
    best[i] = INFINITY;
    for (size_t f = 0; f < F; ++f) best[i] = fmin(best[i], candidate_distance(c->candidates[2 * (f * K + i)], radius));
  }
  MPI_Allreduce(MPI_IN_PLACE, best, (int)K, MPI_DOUBLE, MPI_MIN, c->comm);
  /* 2 key + held: the same face is held or not on every rank that has it (the same corners) */
  memcpy(c->previous_choice, c->choice, K * sizeof *c->choice);
  for (size_t i = 0; i < K; ++i) {
    const double radius = c->params_host[i * PP_CONTACT_SHAPE_PARAMS + 6];
    c->choice[i] = LLONG_MAX;
    if (best[i] < INFINITY)
      for (size_t f = 0; f < F; ++f)
        if (candidate_distance(c->candidates[2 * (f * K + i)], radius) == best[i])
          c->choice[i] = fmin_ll(c->choice[i], 2 * c->faces.key[f] + (c->candidates[2 * (f * K + i) + 1] != 0));
  }
  MPI_Allreduce(MPI_IN_PLACE, c->choice, (int)K, MPI_LONG_LONG, MPI_MIN, c->comm);
  for (size_t i = 0; i < K; ++i) {
    c->chosen_host[i] = -1;
    const int held = c->choice[i] != LLONG_MAX && c->choice[i] % 2;
    for (size_t f = 0; f < F && c->choice[i] != LLONG_MAX && !held; ++f)
      if (2 * c->faces.key[f] == c->choice[i]) c->chosen_host[i] = (int)f;
  }
  if (best != nearest) free(best);
  return PP_OK;
}

/* The tips against the faces: candidates, the global choice, the forces, their gather. */
static pp_err tip_forces(pp_contact *c, cl_mem displacement, cl_mem element_eroded, double dt, int accumulate)
{
  const size_t F = c->faces.count, K = (size_t)c->needles;
  const cl_ulong faces = F, owned = c->owned;
  const cl_int needles = c->needles;
  pp_err local = PP_OK;
  if (F) {
    const size_t sizes[10] = {sizeof faces,   sizeof needles, sizeof(cl_mem), sizeof(cl_mem), sizeof(cl_mem),
                              sizeof(cl_mem), sizeof(cl_mem), sizeof(cl_mem), sizeof(cl_mem), sizeof(cl_mem)};
    const void *values[10] = {&faces,        &needles,       &c->params,       &c->face_reference,
                              &c->face_nodes, &displacement, &c->face_candidates, &c->face_force,
                              &c->face_element, &element_eroded};
    local = set_args(c->candidates_kernel, "face_candidates", 10, sizes, values);
    if (local == PP_OK) local = pp_clrt_launch(c->clrt, c->candidates_kernel, "contact face_candidates", F, LOCAL_SIZE);
  }
  PP_CALL(pp_comm_agree(c->comm, local, "contact face candidates"));
  PP_CALL(choose_faces(c));
  local = pp_clrt_write(c->clrt, c->chosen, 0, K * sizeof(int), c->chosen_host, "contact chosen faces");
  if (local == PP_OK && F) {
    const size_t sizes[10] = {sizeof needles, sizeof(cl_mem), sizeof(cl_mem), sizeof(cl_mem), sizeof(cl_mem),
                              sizeof(cl_mem),  sizeof(cl_mem), sizeof(cl_mem), sizeof(cl_mem), sizeof(cl_mem)};
    const void *values[10] = {&needles,        &c->chosen,     &c->face_owned, &c->params,     &c->face_reference,
                              &c->face_nodes,  &displacement,  &c->face_stiffness, &c->face_force, &c->tip_force};
    local = set_args(c->tip_kernel, "face_tip_forces", 10, sizes, values);
    if (local == PP_OK) local = pp_clrt_launch(c->clrt, c->tip_kernel, "contact face_tip_forces", 1, 1);
    const size_t gather_sizes[5] = {sizeof owned, sizeof(cl_mem), sizeof(cl_mem), sizeof(cl_mem), sizeof(cl_mem)};
    const void *gather_values[5] = {&owned, &c->face_offsets, &c->face_entries, &c->face_force, &c->force};
    if (local == PP_OK) local = set_args(c->gather_kernel, "gather_face_forces", 5, gather_sizes, gather_values);
    if (local == PP_OK)
      local = pp_clrt_launch(c->clrt, c->gather_kernel, "contact gather_face_forces", c->owned, LOCAL_SIZE);
    if (local == PP_OK) local = pp_clrt_read_reals(c->clrt, c->tip_force, c->tip, K * TIP_VALUES, "contact tip forces");
  }
  if (!F) memset(c->tip, 0, K * TIP_VALUES * sizeof *c->tip);
  PP_CALL(pp_comm_agree(c->comm, local, "contact tip forces"));
  /* one rank (the face element's owner) holds each value, the others add zeros: the sum is exact */
  MPI_Allreduce(MPI_IN_PLACE, c->tip, (int)(K * TIP_VALUES), MPI_DOUBLE, MPI_SUM, c->comm);
  for (size_t i = 0; i < K; ++i) {
    const double *tip = c->tip + i * TIP_VALUES, *before = c->tip_before + i * TIP_VALUES;
    c->penalty_energy += tip[4];
    if (!accumulate) continue;
    /* the needle pushes the face with -F: its work, trapezoidal as the nodes' */
    for (int d = 0; d < 3; ++d) c->needle_work -= (before[d] + tip[d]) / 2 * c->velocity_host[i * 3 + d] * dt;
    /* A hand-off: the tip went from its face's spring to the node pass (its nearest face now held)
       or back, and the springs' energy may jump without work. Moving from one face to the next is
       not one: the nearest point, and so the penetration, is continuous across their edge (a tip
       over a node has four faces equally near; rounding picks one). A first touch, from no face,
       is a spring growing from zero. */
    c->handoffs += c->previous_choice[i] != LLONG_MAX && c->choice[i] != LLONG_MAX &&
                   (c->previous_choice[i] & 1) != (c->choice[i] & 1);
  }
  memcpy(c->tip_before, c->tip, K * TIP_VALUES * sizeof *c->tip);
  return PP_OK;
}

pp_err pp_contact_set_needles(pp_contact *c, const double *params, const double *velocity, const double *friction)
{
  const size_t K = (size_t)c->needles;
  double motion[64 * MOTION], *host = K <= 64 ? motion : malloc(K * MOTION * sizeof *host);
  pp_err err = host ? PP_OK : pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory");
  for (size_t i = 0; host && i < K; ++i) {
    for (int d = 0; d < 3; ++d) host[i * MOTION + d] = velocity[i * 3 + d];
    host[i * MOTION + 3] = friction[i];
  }
  if (err == PP_OK) {
    memcpy(c->params_host, params, K * PP_CONTACT_SHAPE_PARAMS * sizeof *params);
    memcpy(c->velocity_host, velocity, K * 3 * sizeof *velocity);
    err = pp_clrt_write_reals(c->clrt, c->params, params, K * PP_CONTACT_SHAPE_PARAMS, "needle shapes");
  }
  if (err == PP_OK) err = pp_clrt_write_reals(c->clrt, c->motion, host, K * MOTION, "needle motion");
  if (host != motion) free(host);
  return pp_comm_agree(c->comm, err, "moving the needles");
}

pp_err pp_contact_evaluate(pp_contact *c, const pp_contact_state *state, double dt, int accumulate)
{
  const cl_ulong owned = c->owned, stride = c->stride;
  const cl_int needles = c->needles;
  const cl_mem first[9] = {c->params,   c->motion, c->reference, state->displacement, state->velocity, state->mass,
                           state->internal_force, state->other_force, c->stiffness};
  pp_err err = PP_OK;
  cl_int status = clSetKernelArg(c->kernel, 0, sizeof owned, &owned);
  if (status == CL_SUCCESS) status = clSetKernelArg(c->kernel, 1, sizeof needles, &needles);
  for (int i = 0; status == CL_SUCCESS && i < 9; ++i)
    status = clSetKernelArg(c->kernel, (cl_uint)(3 + i), sizeof(cl_mem), &first[i]);
  if (status == CL_SUCCESS) status = clSetKernelArg(c->kernel, 12, sizeof(cl_mem), &c->force);
  if (status == CL_SUCCESS) status = clSetKernelArg(c->kernel, 13, sizeof(cl_mem), &c->terms);
  if (status == CL_SUCCESS) status = clSetKernelArg(c->kernel, 14, sizeof stride, &stride);
  if (status == CL_SUCCESS) status = clSetKernelArg(c->kernel, 15, sizeof(cl_mem), &c->rates);
  if (status == CL_SUCCESS) status = clSetKernelArg(c->kernel, 16, sizeof(cl_mem), &c->penetration);
  if (status == CL_SUCCESS) status = clSetKernelArg(c->kernel, 17, sizeof(cl_mem), &state->node_active);
  if (status != CL_SUCCESS)
    err = pp_error_raise(PP_ERR_OPENCL, __FILE__, __LINE__, __func__, "setting the needle_contact arguments: %s (%d)",
                         pp_cl_error_name(status), (int)status);
  if (err == PP_OK) err = pp_clrt_set_real_arg(c->clrt, c->kernel, 2, dt, "needle_contact dt");
  if (err == PP_OK) err = pp_clrt_launch(c->clrt, c->kernel, "contact needle_contact", c->owned, LOCAL_SIZE);
  PP_CALL(pp_comm_agree(c->comm, err, "needle contact"));
  double sums[RATES];
  PP_CALL(pp_reduce_dots(c->reduce, c->rates, c->ones, c->owned, RATES, sums));
  if (accumulate) {
    c->start_penalty = c->penalty_energy;
    c->start_friction = c->friction_dissipated;
    c->start_work = c->needle_work;
    c->start_handoffs = c->handoffs;
  }
  c->penalty_energy = sums[0];
  if (accumulate) {
    c->friction_dissipated += sums[1] * dt;
    c->needle_work += sums[2] * dt;
  }
  PP_CALL(tip_forces(c, state->displacement, state->element_eroded, dt, accumulate));
  if (c->restiffened) {
    c->stiffness_work += c->penalty_energy - c->penalty_before;
    c->restiffened = 0;
  }
  return PP_OK;
}

pp_err pp_contact_needle(pp_contact *c, int needle, pp_contact_needle_totals *t)
{
  PP_CHECK(needle >= 0 && needle < c->needles, PP_ERR_ARGUMENT, "contact: needle %d of %d", needle, c->needles);
  double sums[TERMS];
  PP_CALL(pp_reduce_dots(c->reduce, c->needle_terms[needle], c->ones, c->owned, TERMS, sums));
  memset(t, 0, sizeof *t);
  t->normal_force = sums[0];
  t->friction_force = sums[1];
  t->axial_force = sums[0] + sums[1];
  for (int d = 0; d < 3; ++d) t->force[d] = sums[2 + d];
  t->contact_nodes = (long long)sums[5];
  t->mean_penetration = sums[5] > 0 ? sums[6] / sums[5] : 0;
  t->penalty_energy = sums[7];
  /* the tip against its face: normal force only */
  const double *tip = c->tip + TIP_VALUES * needle, *axis = c->params_host + (size_t)needle * PP_CONTACT_SHAPE_PARAMS + 3;
  for (int d = 0; d < 3; ++d) {
    t->force[d] += tip[d];
    t->tip_force += tip[d] * axis[d];
  }
  t->normal_force += t->tip_force;
  t->axial_force += t->tip_force;
  t->tip_penetration = tip[3];
  t->penalty_energy += tip[4];
  return PP_OK;
}

void pp_contact_work_terms(const pp_contact *c, pp_contact_energy *e)
{
  memset(e, 0, sizeof *e);
  e->penalty_energy = c->penalty_energy;
  e->friction_dissipated = c->friction_dissipated;
  e->needle_work = c->needle_work;
  e->start_penalty_energy = c->start_penalty;
  e->start_friction_dissipated = c->start_friction;
  e->start_needle_work = c->start_work;
  e->handoffs = c->handoffs;
  e->start_handoffs = c->start_handoffs;
  e->stiffness_work = c->stiffness_work;
}

pp_err pp_contact_energy_terms(pp_contact *c, pp_contact_energy *e)
{
  pp_contact_work_terms(c, e);
  PP_CALL(pp_reduce_max(c->reduce, c->penetration, c->owned, &e->max_penetration));
  return PP_OK;
}
