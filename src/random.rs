//! Random names: run ids, temporary files, anything that must not collide with another run's.

/// `len` random lowercase letters.
pub fn suffix(len: usize) -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..len).map(|_| (b'a' + rng.gen_range(0..26)) as char).collect()
}
