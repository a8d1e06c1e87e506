//! Hand-made 32-bit little-endian ARM ELF files for unit tests: named sections and symbols, nothing else.
//!
//! Enough of an ELF for the `object` crate to find sections and symbols, the
//! way the runner reads a firmware's queue descriptor or its embedded-test
//! table, without building any firmware.

/// One section of the ELF: loaded if `address` is not 0 (`SHF_ALLOC`), else like a debug
/// section; code (`SHF_EXECINSTR`, not writable) if its name starts with `.text`.
pub struct Section<'a> {
    pub name: &'a str,
    pub address: u32,
    pub data: &'a [u8],
}

/// An ELF with `sections` (indices 1..), then `.symtab`, `.strtab` and `.shstrtab`;
/// `symbols` are global, each `(name, section, address)`, `section` the 1-based
/// index into `sections` (0: undefined).
pub fn elf(sections: &[Section<'_>], symbols: &[(&str, u16, u32)]) -> Vec<u8> {
    let u16le = |v: u16| v.to_le_bytes();
    let u32le = |v: u32| v.to_le_bytes();
    let len = |b: &[u8]| u32::try_from(b.len()).expect("a small test ELF");
    // String tables: index 0 is the empty name.
    let mut strtab = vec![0u8];
    let mut symtab = vec![0u8; 16];
    for &(name, section, address) in symbols {
        symtab.extend_from_slice(&u32le(len(&strtab)));
        strtab.extend_from_slice(name.as_bytes());
        strtab.push(0);
        symtab.extend_from_slice(&u32le(address));
        symtab.extend_from_slice(&u32le(4));
        symtab.extend_from_slice(&[0x11, 0]); // global object
        symtab.extend_from_slice(&u16le(section));
    }
    let mut shstrtab = vec![0u8];
    let mut name_at = |name: &str| {
        let at = len(&shstrtab);
        shstrtab.extend_from_slice(name.as_bytes());
        shstrtab.push(0);
        at
    };
    // [name, type, flags, address, offset, size, link, info, align, entry size]
    let mut headers: Vec<[u32; 10]> = vec![[0; 10]];
    let mut body = Vec::new();
    let place = |body: &mut Vec<u8>, data: &[u8]| {
        let at = 52 + len(body);
        body.extend_from_slice(data);
        (at, len(data))
    };
    for s in sections {
        let (at, size) = place(&mut body, s.data);
        let flags = match (s.address, s.name.starts_with(".text")) {
            (0, _) => 0,
            (_, false) => 3, // SHF_WRITE | SHF_ALLOC
            (_, true) => 6,  // SHF_ALLOC | SHF_EXECINSTR
        };
        headers.push([name_at(s.name), 1, flags, s.address, at, size, 0, 0, 4, 0]);
    }
    let strtab_index = u32::try_from(headers.len()).expect("a small test ELF") + 1;
    let (at, size) = place(&mut body, &symtab);
    headers.push([
        name_at(".symtab"),
        2,
        0,
        0,
        at,
        size,
        strtab_index,
        1,
        4,
        16,
    ]);
    let (at, size) = place(&mut body, &strtab);
    headers.push([name_at(".strtab"), 3, 0, 0, at, size, 0, 0, 1, 0]);
    let shstrtab_name = name_at(".shstrtab");
    let (at, size) = place(&mut body, &shstrtab);
    headers.push([shstrtab_name, 3, 0, 0, at, size, 0, 0, 1, 0]);

    let headers_at = (52 + len(&body)).next_multiple_of(4);
    let count = u16::try_from(headers.len()).expect("a small test ELF");
    let mut elf = b"\x7fELF\x01\x01\x01".to_vec();
    elf.resize(16, 0);
    elf.extend_from_slice(&u16le(2)); // executable
    elf.extend_from_slice(&u16le(40)); // ARM
    elf.extend_from_slice(&u32le(1));
    elf.extend_from_slice(&u32le(0)); // entry
    elf.extend_from_slice(&u32le(0)); // no program headers
    elf.extend_from_slice(&u32le(headers_at));
    elf.extend_from_slice(&u32le(0x0500_0000));
    for half in [52, 32, 0, 40, count, count - 1] {
        elf.extend_from_slice(&u16le(half));
    }
    elf.extend_from_slice(&body);
    elf.resize(headers_at as usize, 0);
    for header in headers {
        for word in header {
            elf.extend_from_slice(&u32le(word));
        }
    }
    elf
}
