// A .wts loader written the way tensorrtx's C++ samples read weights: formatted stream extraction,
// `>> std::dec` for the count and `>> std::hex` into uint32_t for every value. It is the baseline of
// benchmarks/wts_speed.py and, in tests, the proof that netdsl's .wts export is what such loaders accept.
//
// usage: wts_loader FILE   prints: entries values checksum seconds
// checksum: the sum, modulo 2^64, of every value's 32-bit pattern.
#include <chrono>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: wts_loader FILE\n";
        return 2;
    }
    auto start = std::chrono::steady_clock::now();
    std::ifstream input(argv[1]);
    if (!input) {
        std::cerr << "cannot open " << argv[1] << "\n";
        return 1;
    }
    int32_t count = 0;
    input >> count;
    if (!input || count <= 0) {
        std::cerr << "bad count line\n";
        return 1;
    }
    std::map<std::string, std::vector<uint32_t>> weights;
    uint64_t values = 0, checksum = 0;
    while (count--) {
        std::string name;
        uint32_t size = 0;
        input >> name >> std::dec >> size;
        std::vector<uint32_t> data(size);
        for (uint32_t i = 0; i < size; ++i) {
            input >> std::hex >> data[i];
            checksum += data[i];
        }
        if (!input) {
            std::cerr << "parse error in " << name << "\n";
            return 1;
        }
        values += size;
        weights[name] = std::move(data);
    }
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << weights.size() << " " << values << " " << checksum << " " << seconds << "\n";
    return 0;
}
